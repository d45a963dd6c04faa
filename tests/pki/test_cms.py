"""Unit tests of gateway.pki.cms (no database): every Reason the CMS layer raises, each with a real input.

This module also holds the builders for hostile CMS messages and certificates; test_cms_fuzz.py and
tests/test_cms_differential.py import them, so all three build their inputs the same way.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import shutil
import subprocess
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from asn1crypto import core
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from gateway.pki import cms, issuance
from gateway.pki.errors import Reason, Rejected
from gateway.pki.issuance import Issued
from gateway.pki.policy import PROFILES
from tests.factory import NOW, CountryPki, Pki

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

OPENSSL = shutil.which("openssl")
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="the openssl binary is not installed")

# --- DER and certificate helpers -----------------------------------------------------------------


def der_header(tag: int, length: int) -> bytes:
    if length < 0x80:
        return bytes([tag, length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(octets)]) + octets


def tlv(tag: int, content: bytes) -> bytes:
    return der_header(tag, len(content)) + content


def _read_tlv(data: bytes, offset: int) -> tuple[int, int, int]:
    """(tag, content start, end) of the definite-length DER element at ``offset`` (low tag numbers only)."""
    tag, first = data[offset], data[offset + 1]
    if first < 0x80:
        return tag, offset + 2, offset + 2 + first
    count = first & 0x7F
    length = int.from_bytes(data[offset + 2 : offset + 2 + count], "big")
    start = offset + 2 + count
    return tag, start, start + length


def replace_element(data: bytes, old: bytes, new: bytes) -> bytes:
    """Replace every DER element equal to ``old`` by ``new`` and re-encode the lengths of all enclosing
    constructed elements (byte-level, so ``new`` may be BER or junk that no ASN.1 library would emit)."""
    if data == old:
        return new
    tag, start, end = _read_tlv(data, 0)
    if not tag & 0x20 or old not in data:
        return data
    children, offset = [], start
    while offset < end:
        _, _, child_end = _read_tlv(data, offset)
        children.append(replace_element(data[offset:child_end], old, new))
        offset = child_end
    return tlv(tag, b"".join(children)) + data[end:]


def nested_sequences(depth: int) -> bytes:
    """``depth`` properly nested definite-length SEQUENCE headers around nothing."""
    inner = b""
    for _ in range(depth):
        inner = tlv(0x30, inner)
    return inner


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "md5": hashes.MD5,
    "sha1": hashes.SHA1,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@functools.cache
def rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    """One RSA key per size for the whole run (key generation dominates otherwise)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def sign_raw(key: issuance.PrivateKey, data: bytes, hash_algorithm: hashes.HashAlgorithm) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return key.sign(data, ec.ECDSA(hash_algorithm))
    return key.sign(data, padding.PKCS1v15(), hash_algorithm)


def resign_bytes(cert_der: bytes, issuer_key: issuance.PrivateKey, old: bytes, new: bytes) -> bytes:
    """Replace the first ``old`` by ``new`` inside the TBSCertificate bytes and sign again (SHA-256).

    Unlike factory.resign_tbs nothing is re-encoded, so asn1crypto need not understand the result
    (unknown key algorithms, malformed names, bad versions)."""
    parsed = ax509.Certificate.load(cert_der)
    inner = parsed["tbs_certificate"].contents
    assert old in inner
    tbs_der = tlv(0x30, inner.replace(old, new, 1))
    signature = sign_raw(issuer_key, tbs_der, hashes.SHA256())
    return tlv(0x30, tbs_der + parsed["signature_algorithm"].dump() + tlv(0x03, b"\x00" + signature))


def tbs_field(cert_der: bytes, name: str) -> bytes:
    return ax509.Certificate.load(cert_der)["tbs_certificate"][name].dump()


def with_unknown_key_algorithm(cert_der: bytes, issuer_key: issuance.PrivateKey) -> bytes:
    """The same certificate, but its SubjectPublicKeyInfo names the unknown algorithm 1.2.3.4.5."""
    spki = ax509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"]
    unknown = tlv(0x30, tlv(0x30, core.ObjectIdentifier("1.2.3.4.5").dump()) + spki["public_key"].dump())
    return resign_bytes(cert_der, issuer_key, spki.dump(), unknown)


def with_duplicate_extension(cert_der: bytes, issuer_key: issuance.PrivateKey) -> bytes:
    """The same certificate with its subjectKeyIdentifier extension listed twice (RFC 5280 4.2 forbids it)."""
    extensions = ax509.Certificate.load(cert_der)["tbs_certificate"]["extensions"]
    ski = next(ext for ext in extensions if ext["extn_id"].native == "key_identifier").dump()
    listed_twice = tlv(0xA3, tlv(0x30, extensions.contents + ski))
    return resign_bytes(cert_der, issuer_key, tbs_field(cert_der, "extensions"), listed_twice)


def with_malformed_issuer(cert_der: bytes, issuer_key: issuance.PrivateKey) -> bytes:
    """The issuer Name's CN value encoded as an INTEGER: well-formed DER, invalid X.501 Name."""
    cn = tlv(0x30, core.ObjectIdentifier("2.5.4.3").dump() + tlv(0x02, b"\x01"))
    bad_name = tlv(0x30, tlv(0x31, cn))
    return resign_bytes(cert_der, issuer_key, tbs_field(cert_der, "issuer"), bad_name)


def with_malformed_subject(cert_der: bytes, issuer_key: issuance.PrivateKey) -> bytes:
    cn = tlv(0x30, core.ObjectIdentifier("2.5.4.3").dump() + tlv(0x02, b"\x01"))
    bad_name = tlv(0x30, tlv(0x31, cn))
    return resign_bytes(cert_der, issuer_key, tbs_field(cert_der, "subject"), bad_name)


def with_version(cert_der: bytes, issuer_key: issuance.PrivateKey, version: int) -> bytes:
    return resign_bytes(cert_der, issuer_key, b"\xa0\x03\x02\x01\x02", b"\xa0\x03\x02\x01" + bytes([version]))


def with_invalid_ec_point(cert_der: bytes, issuer_key: issuance.PrivateKey) -> bytes:
    """An EC subject key whose point is not on the curve (last byte of y flipped)."""
    bit_string = ax509.Certificate.load(cert_der)["tbs_certificate"]["subject_public_key_info"]["public_key"].dump()
    return resign_bytes(cert_der, issuer_key, bit_string, bit_string[:-1] + bytes([bit_string[-1] ^ 1]))


def with_ber_validity_length(cert_der: bytes, extra_octets: int = 1) -> bytes:
    """The validity SEQUENCE's length in non-minimal long form (BER, not DER); enclosing lengths fixed up.
    The certificate signature no longer matches, which CMS verification with -noverify never looks at."""
    validity = tbs_field(cert_der, "validity")
    assert validity[1] < 0x80
    ber = bytes([0x30, 0x80 | extra_octets]) + validity[1:2].rjust(extra_octets, b"\x00") + validity[2:]
    return replace_element(cert_der, validity, ber)


def outer_length_ends_in_0x80(der: bytes) -> bool:
    """asn1crypto takes a header whose last octet is 0x80 for an indefinite length and re-encodes the whole
    element as DER on dump(), even when the header is a definite length such as 30 82 01 80."""
    _, start, end = _read_tlv(der, 0)
    return (end - start) & 0xFF == 0x80


def ber_certificate(cert_der: bytes) -> bytes:
    """A BER variant of ``cert_der`` that asn1crypto passes on unchanged (the outer length avoids 0x..80)."""
    for extra in (1, 2, 3):
        ber = with_ber_validity_length(cert_der, extra)
        if not outer_length_ends_in_0x80(ber):
            return ber
    raise AssertionError("unreachable: three consecutive lengths cannot all end in 0x80")


def signer_normalised_by_asn1crypto(label: str = "padded", at: dt.datetime = NOW) -> Issued:
    """A self-signed upload certificate whose BER variant (``with_ber_validity_length``) has a content length
    ending in 0x80, so that asn1crypto silently re-encodes that variant to the original DER. A non-critical
    private extension pads the certificate to the wanted size. RSA, because its signatures have a fixed
    length (ECDSA's vary by a byte or two, which made the search miss now and then)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = issuance.name(f"XA upload {label}", "XA")
    padding_oid = x509.ObjectIdentifier("1.3.6.1.4.1.99999.2")
    for attempt in range(1024):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(0x5EED0000 + attempt)
            .not_valid_before(at - dt.timedelta(days=1))
            .not_valid_after(at + dt.timedelta(days=365))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.UnrecognizedExtension(padding_oid, b"\x00" * attempt), critical=False)
        )
        candidate = Issued(builder.sign(key, hashes.SHA256()), key)
        if outer_length_ends_in_0x80(with_ber_validity_length(candidate.der)):
            return candidate
    raise AssertionError("no padding length gave the wanted certificate size")


def cert_without_ski(subject: x509.Name, key: issuance.PrivateKey) -> bytes:
    """A self-signed certificate with no extensions at all (so no subjectKeyIdentifier)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(0x1234567)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
    )
    return Issued(builder.sign(key, hashes.SHA256()), key).der


# --- the CMS builder ----------------------------------------------------------------------------

DEFAULT_ATTRIBUTES = ("content_type", "message_digest")


def signature_algorithm(
    key: issuance.PrivateKey, scheme: str | None, digest: str, mgf_digest: str | None = None
) -> tuple[str, dict]:
    if scheme is None:
        scheme = "ecdsa" if isinstance(key, ec.EllipticCurvePrivateKey) else "pkcs1v15"
    if scheme == "ecdsa":
        return scheme, {"algorithm": f"{digest}_ecdsa"}
    if scheme == "pkcs1v15":
        return scheme, {"algorithm": "rsassa_pkcs1v15"}  # rsaEncryption, as OpenSSL and cryptography emit
    if scheme == "pss":
        size = _HASHES[digest].digest_size
        parameters = {
            "hash_algorithm": {"algorithm": digest},
            "mask_gen_algorithm": {"algorithm": "mgf1", "parameters": {"algorithm": mgf_digest or digest}},
            "salt_length": size,
            "trailer_field": "trailer_field_bc",
        }
        return scheme, {"algorithm": "rsassa_pss", "parameters": parameters}
    raise ValueError(scheme)


def build_cms(
    payload: bytes,
    signer_der: bytes,
    key: issuance.PrivateKey,
    *,
    digest: str = "sha256",
    scheme: str | None = None,
    mgf_digest: str | None = None,
    sid: str = "issuer_serial",
    sid_source: bytes | None = None,
    ski_value: bytes | None = None,
    signed_attributes: tuple[str, ...] | None = DEFAULT_ATTRIBUTES,
    content_type_attribute: str | None = None,
    message_digest: bytes | None = None,
    extra_attributes: tuple[dict, ...] = (),
    econtent_type: str = "data",
    attached: bool = True,
    certificates: list[bytes] | None = None,
    signer_infos: int = 1,
    tamper_signature: bool = False,
    algorithm_override: dict | None = None,
) -> bytes:
    """A DER CMS SignedData over ``payload`` with every field under the test's control.

    ``signer_der`` is the certificate the SignerInfo names and (by default) the only certificate
    embedded; ``key`` makes the signature (pass another key for a wrong-key message)."""
    hash_algorithm = _HASHES[digest]()
    scheme, sig_alg = signature_algorithm(key, scheme, digest, mgf_digest)
    digest_value = message_digest if message_digest is not None else hashlib.new(digest, payload).digest()
    attributes = None
    if signed_attributes is not None:
        values = {
            "content_type": [content_type_attribute or econtent_type],
            "message_digest": [digest_value],
        }
        attributes = acms.CMSAttributes(
            [{"type": name, "values": values[name]} for name in signed_attributes] + list(extra_attributes)
        )
        to_sign = attributes.dump()  # universal SET OF tag, RFC 5652 5.4
    else:
        to_sign = payload
    if scheme == "ecdsa":
        signature = key.sign(to_sign, ec.ECDSA(hash_algorithm))  # type: ignore[call-arg,arg-type]
    elif scheme == "pkcs1v15":
        signature = key.sign(to_sign, padding.PKCS1v15(), hash_algorithm)  # type: ignore[call-arg,arg-type]
    else:
        mgf_hash = _HASHES[mgf_digest]() if mgf_digest else hash_algorithm
        pss = padding.PSS(mgf=padding.MGF1(mgf_hash), salt_length=hash_algorithm.digest_size)
        signature = key.sign(to_sign, pss, hash_algorithm)  # type: ignore[call-arg,arg-type]
    if tamper_signature:
        signature = signature[:-1] + bytes([signature[-1] ^ 0x01])

    named = ax509.Certificate.load(sid_source or signer_der)
    if sid == "issuer_serial":
        identifier = acms.SignerIdentifier(
            {"issuer_and_serial_number": {"issuer": named.issuer, "serial_number": named.serial_number}}
        )
        version = "v1"
    else:
        identifier = acms.SignerIdentifier({"subject_key_identifier": ski_value or named.key_identifier})
        version = "v3"
    signer_info = {
        "version": version,
        "sid": identifier,
        "digest_algorithm": {"algorithm": digest},
        "signature_algorithm": algorithm_override or sig_alg,
        "signature": signature,
    }
    if attributes is not None:
        signer_info["signed_attrs"] = attributes
    # RFC 5652 5.1: SignedData is v3 when a sid is a key identifier or eContentType is not id-data
    signed_version = "v1" if version == "v1" and econtent_type == "data" else "v3"
    content: dict = {"content_type": econtent_type}
    if attached:
        content["content"] = payload
    encap = acms.EncapsulatedContentInfo(content) if signed_version == "v3" else acms.ContentInfo(content)
    signed = {
        "version": signed_version,
        "digest_algorithms": [{"algorithm": digest}],
        "encap_content_info": encap,
        "signer_infos": [acms.SignerInfo(signer_info) for _ in range(signer_infos)],
    }
    embedded = [signer_der] if certificates is None else certificates
    if embedded:
        signed["certificates"] = [ax509.Certificate.load(der) for der in embedded]
    return acms.ContentInfo({"content_type": "signed_data", "content": acms.SignedData(signed)}).dump()


def with_pss_parameter(cms_der: bytes, field: str, value: object) -> bytes:
    """Change one RSASSA-PSS parameter of the (only) SignerInfo without re-signing."""
    info = acms.ContentInfo.load(cms_der)
    info["content"]["signer_infos"][0]["signature_algorithm"]["parameters"][field] = value
    return info.dump(force=True)


def openssl_verify(cms_der: bytes, directory: Path, *, content: bytes | None = None) -> subprocess.CompletedProcess:
    """``openssl cms -verify -noverify``: the signature only, the chain is checked elsewhere."""
    message = directory / f"m-{hashlib.sha256(cms_der).hexdigest()[:16]}.der"
    message.write_bytes(cms_der)
    command = [OPENSSL or "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-noverify", "-in", str(message)]
    if content is not None:
        content_file = directory / f"c-{hashlib.sha256(content).hexdigest()[:16]}.bin"
        content_file.write_bytes(content)
        command += ["-content", str(content_file)]
    return subprocess.run([*command, "-out", "/dev/null"], capture_output=True, timeout=30, check=False)


def openssl_sign(payload: bytes, signer: Issued, directory: Path, *extra: str) -> bytes:
    """A CMS made by ``openssl cms -sign`` (the reference implementation, not our builder)."""
    (directory / "payload.bin").write_bytes(payload)
    (directory / "signer.pem").write_bytes(signer.cert_pem)
    (directory / "signer.key").write_bytes(signer.key_pem)
    out = directory / "signed.der"
    subprocess.run(
        [
            OPENSSL or "openssl",
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-outform",
            "DER",
            "-md",
            "sha256",
            "-in",
            str(directory / "payload.bin"),
            "-signer",
            str(directory / "signer.pem"),
            "-inkey",
            str(directory / "signer.key"),
            "-out",
            str(out),
            *extra,
        ],
        capture_output=True,
        timeout=30,
        check=True,
    )
    return out.read_bytes()


# --- fixtures -----------------------------------------------------------------------------------


@dataclass
class World:
    pki: Pki
    xa: CountryPki
    dsc: Issued
    rsa_upload: Issued
    p384_upload: Issued
    other_key: ec.EllipticCurvePrivateKey
    message: bytes  # the reference upload: cryptography's PKCS7 builder, as the factory makes it


def make_world() -> World:
    pki = Pki.create()
    xa = pki.country("XA", onboard=False)
    rsa_upload = issuance.issue(issuance.name("XA upload RSA", "XA"), at=NOW, key=rsa_key(2048))
    p384_upload = issuance.issue(issuance.name("XA upload P-384", "XA"), at=NOW, key=issuance.new_key("ec-p384"))
    dsc = xa.dsc()
    return World(pki, xa, dsc, rsa_upload, p384_upload, ec.generate_private_key(ec.SECP256R1()), xa.cms(dsc.der))


@pytest.fixture(scope="module")
def world() -> World:
    return make_world()


def rejected(data: bytes, *, detached: bytes | None = None) -> Reason:
    call = cms.parse_attached if detached is None else functools.partial(cms.verify_detached, content=detached)
    with pytest.raises(Rejected) as info:
        call(data)
    return info.value.reason


# --- base64 transport ---------------------------------------------------------------------------


def test_base64_body_round_trip(world: World) -> None:
    message = world.message
    assert cms.decode_base64_body(base64.b64encode(message)) == message
    assert cms.decode_base64_body(base64.b64encode(message).decode("ascii")) == message


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty-bytes"),
        pytest.param("", id="empty-str"),
        pytest.param(b"!!!!", id="not-alphabet"),
        pytest.param(b"QUJD\n", id="trailing-newline"),
        pytest.param(b" QUJD", id="leading-space"),
        pytest.param(b"QU JD", id="inner-space"),
        pytest.param(b"-_8=", id="url-safe-alphabet"),
        pytest.param("QUJDé", id="non-ascii-str"),
        pytest.param(b"QUJD\x00", id="nul"),
    ],
)
def test_base64_body_rejects(body: bytes | str) -> None:
    with pytest.raises(Rejected) as info:
        cms.decode_base64_body(body)
    assert info.value.reason == Reason.INVALID_BASE64


@pytest.mark.parametrize("suffix", [b"=", b"==", b"===="])
def test_base64_body_rejects_excess_padding(world: World, suffix: bytes) -> None:
    data = world.message[: len(world.message) // 3 * 3]
    body = base64.b64encode(data)  # a multiple of 3 octets: no padding of its own
    with pytest.raises(Rejected) as info:
        cms.decode_base64_body(body + suffix)
    assert info.value.reason == Reason.INVALID_BASE64


def test_base64_body_rejects_line_breaks_and_pem_armour(world: World) -> None:
    """Java's strict decoder (DGCG): no MIME line breaks, no PEM armour."""
    mime = base64.encodebytes(world.message)
    assert b"\n" in mime.rstrip(b"\n")
    pem = b"-----BEGIN CMS-----\n" + mime + b"-----END CMS-----\n"
    for body in (mime, mime.replace(b"\n", b"\r\n"), pem, pem.replace(b"\n", b"")):
        with pytest.raises(Rejected) as info:
            cms.decode_base64_body(body)
        assert info.value.reason == Reason.INVALID_BASE64


# --- accepted messages --------------------------------------------------------------------------


def test_reference_message_is_accepted(world: World) -> None:
    message = cms.parse_attached(world.message)
    assert message.payload == world.dsc.der
    assert message.signer_der == world.xa.upload.der
    assert message.signer == world.xa.upload.certificate
    assert message.cms_der == world.message


@pytest.mark.parametrize(
    ("signer", "scheme", "digest", "sid"),
    [
        pytest.param("ec256", "ecdsa", "sha256", "issuer_serial", id="ecdsa-p256-sha256"),
        pytest.param("ec256", "ecdsa", "sha512", "issuer_serial", id="ecdsa-p256-sha512"),
        pytest.param("ec256", "ecdsa", "sha256", "ski", id="ecdsa-p256-ski-sid"),
        pytest.param("ec384", "ecdsa", "sha384", "issuer_serial", id="ecdsa-p384-sha384"),
        pytest.param("rsa", "pkcs1v15", "sha256", "issuer_serial", id="rsa-pkcs1v15-sha256"),
        pytest.param("rsa", "pkcs1v15", "sha384", "issuer_serial", id="rsa-pkcs1v15-sha384"),
        pytest.param("rsa", "pss", "sha256", "issuer_serial", id="rsa-pss-sha256"),
        pytest.param("rsa", "pss", "sha512", "issuer_serial", id="rsa-pss-sha512"),
    ],
)
def test_supported_signatures_are_accepted(world: World, signer: str, scheme: str, digest: str, sid: str) -> None:
    issued = {"ec256": world.xa.upload, "ec384": world.p384_upload, "rsa": world.rsa_upload}[signer]
    data = build_cms(world.dsc.der, issued.der, issued.key, scheme=scheme, digest=digest, sid=sid)
    message = cms.parse_attached(data)
    assert message.payload == world.dsc.der
    assert message.signer_der == issued.der


def test_unrelated_extra_signed_attributes_are_allowed(world: World) -> None:
    signing_time = {"type": "signing_time", "values": [acms.Time({"utc_time": NOW})]}
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key, extra_attributes=(signing_time,))
    assert cms.parse_attached(data).payload == world.dsc.der


@needs_openssl
@pytest.mark.parametrize(
    "extra",
    [pytest.param((), id="rsa-pkcs1v15"), pytest.param(("-keyopt", "rsa_padding_mode:pss"), id="rsa-pss")],
)
def test_openssl_made_rsa_messages_are_accepted(world: World, tmp_path: Path, extra: tuple[str, ...]) -> None:
    data = openssl_sign(world.dsc.der, world.rsa_upload, tmp_path, *extra)
    assert cms.parse_attached(data).signer_der == world.rsa_upload.der


@needs_openssl
def test_ber_indefinite_length_wrapper_is_accepted(world: World, tmp_path: Path) -> None:
    """BER policy (cms.py docstring): the CMS wrapper may use indefinite lengths, as OpenSSL -stream makes."""
    data = openssl_sign(world.dsc.der, world.xa.upload, tmp_path, "-stream")
    assert data[:2] == b"\x30\x80"
    assert cms.parse_attached(data).payload == world.dsc.der


# --- structure ----------------------------------------------------------------------------------


def test_not_signed_data(world: World) -> None:
    data_info = acms.ContentInfo({"content_type": "data", "content": core.OctetString(world.dsc.der)}).dump()
    assert rejected(data_info) == Reason.CMS_NOT_SIGNED_DATA
    digested = tlv(0x30, core.ObjectIdentifier("1.2.840.113549.1.7.5").dump() + tlv(0xA0, tlv(0x30, b"")))
    assert rejected(digested) == Reason.CMS_NOT_SIGNED_DATA


@pytest.mark.parametrize("econtent_type", ["1.2.3.4", "1.2.840.113549.1.9.16.1.4"])
def test_econtent_type_must_be_id_data(world: World, econtent_type: str) -> None:
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key, econtent_type=econtent_type)
    assert rejected(data) == Reason.CMS_CONTENT_TYPE


def test_detached_message_is_not_an_upload(world: World) -> None:
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key, attached=False)
    assert rejected(data) == Reason.CMS_DETACHED
    assert cms.verify_detached(data, world.dsc.der).payload == world.dsc.der


def test_verify_detached_refuses_embedded_content(world: World) -> None:
    assert rejected(world.message, detached=world.dsc.der) == Reason.CMS_UNEXPECTED_CONTENT


@pytest.mark.parametrize("count", [0, 2, 3])
def test_exactly_one_certificate(world: World, count: int) -> None:
    certificates = [world.xa.upload.der, world.xa.csca.der, world.dsc.der][:count]
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key, certificates=certificates)
    assert rejected(data) == Reason.CMS_CERTIFICATE_COUNT


def test_two_copies_of_the_signer_certificate_are_two_certificates(world: World) -> None:
    certificates = [world.xa.upload.der, world.xa.upload.der]
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key, certificates=certificates)
    assert rejected(data) == Reason.CMS_CERTIFICATE_COUNT


@pytest.mark.parametrize("count", [0, 2])
def test_exactly_one_signer_info(world: World, count: int) -> None:
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key, signer_infos=count)
    assert rejected(data) == Reason.CMS_SIGNER_COUNT


def test_embedded_certificate_must_be_der(world: World) -> None:
    """A non-minimal length inside the signer certificate is BER, not DER: refused under the
    strict policy, a finding under dgcg (CmsPolicy.require_der)."""
    upload = world.xa.upload.der
    ber = ber_certificate(upload)
    hostile = replace_element(build_cms(world.dsc.der, upload, world.xa.upload.key), upload, ber)
    assert ber in hostile
    assert rejected(hostile) == Reason.CERTIFICATE_ENCODING
    relaxed = cms.parse_attached(hostile, PROFILES["dgcg"].cms)
    assert [finding.reason for finding in relaxed.findings] == [Reason.CERTIFICATE_ENCODING]


def test_embedded_ber_certificate_is_not_normalised(world: World) -> None:
    signer = signer_normalised_by_asn1crypto()
    ber = with_ber_validity_length(signer.der)
    hostile = replace_element(build_cms(world.dsc.der, signer.der, signer.key), signer.der, ber)
    assert ber in hostile
    assert rejected(hostile) == Reason.CERTIFICATE_ENCODING


def test_signer_certificate_junk(world: World) -> None:
    junk = tlv(0x30, tlv(0x30, b"\x02\x01\x01") + tlv(0x30, b"") + tlv(0x03, b"\x00"))
    hostile = replace_element(
        build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key), world.xa.upload.der, junk
    )
    assert junk in hostile
    assert rejected(hostile) in {Reason.CERTIFICATE_PARSE, Reason.CMS_PARSE}


# --- SignerInfo and signed attributes ------------------------------------------------------------


def test_sid_names_another_certificate(world: World) -> None:
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key, sid_source=world.xa.csca.der)
    assert rejected(data) == Reason.CMS_SIGNER_MISMATCH


def test_sid_serial_mismatch(world: World) -> None:
    upload = world.xa.upload
    other_serial = issuance.issue(upload.certificate.subject, at=NOW, key=upload.key, serial=12345)
    data = build_cms(world.dsc.der, upload.der, upload.key, sid_source=other_serial.der)
    assert rejected(data) == Reason.CMS_SIGNER_MISMATCH


def test_sid_key_identifier_mismatch(world: World) -> None:
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key, sid="ski", ski_value=b"\x01" * 20)
    assert rejected(data) == Reason.CMS_SIGNER_MISMATCH


def test_sid_key_identifier_but_certificate_has_none(world: World) -> None:
    key = world.other_key
    signer = cert_without_ski(issuance.name("XA upload no SKI", "XA"), key)
    data = build_cms(world.dsc.der, signer, key, sid="ski", ski_value=b"\x02" * 20)
    assert rejected(data) == Reason.CMS_SIGNER_MISMATCH


@pytest.mark.parametrize(
    "attributes",
    [
        pytest.param(("content_type",), id="no-message-digest"),
        pytest.param(("message_digest",), id="no-content-type"),
        pytest.param((), id="empty-set"),
        pytest.param(("content_type", "message_digest", "message_digest"), id="message-digest-twice"),
        pytest.param(("content_type", "content_type", "message_digest"), id="content-type-twice"),
    ],
)
def test_signed_attributes_need_content_type_and_message_digest(world: World, attributes: tuple[str, ...]) -> None:
    """RFC 5652 §5.3, whatever the policy; absent signed attributes: tests/pki/test_cms_profiles.py."""
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key, signed_attributes=attributes)
    assert rejected(data) == Reason.CMS_MISSING_ATTRIBUTES


def test_attribute_with_two_values(world: World) -> None:
    digest = hashlib.sha256(world.dsc.der).digest()
    two_values = {"type": "message_digest", "values": [digest, digest]}
    data = build_cms(
        world.dsc.der,
        world.xa.upload.der,
        world.xa.upload.key,
        signed_attributes=("content_type",),
        extra_attributes=(two_values,),
    )
    assert rejected(data) == Reason.CMS_MISSING_ATTRIBUTES


def test_content_type_attribute_must_match(world: World) -> None:
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key, content_type_attribute="signed_data")
    assert rejected(data) == Reason.CMS_CONTENT_TYPE_ATTRIBUTE


@pytest.mark.parametrize(
    "digest_value",
    [
        pytest.param(b"\x00" * 32, id="zeros"),
        pytest.param(hashlib.sha256(b"another payload").digest(), id="other-content"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\x00" * 64, id="too-long"),
    ],
)
def test_message_digest_must_match(world: World, digest_value: bytes) -> None:
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key, message_digest=digest_value)
    assert rejected(data) == Reason.CMS_MESSAGE_DIGEST


@pytest.mark.parametrize(("digest", "reason"), [("sha1", Reason.CMS_DIGEST_SHA1), ("md5", Reason.CMS_ALGORITHM)])
def test_weak_digest_algorithms_are_refused(world: World, digest: str, reason: Reason) -> None:
    """SHA-1 by its own, relaxable reason (tests/pki/test_cms_profiles.py); MD5 under no policy."""
    upload = world.rsa_upload if digest == "md5" else world.xa.upload
    data = build_cms(world.dsc.der, upload.der, upload.key, digest=digest)
    assert rejected(data) == reason


def test_signature_hash_must_agree_with_digest_algorithm(world: World) -> None:
    data = build_cms(
        world.dsc.der, world.xa.upload.der, world.xa.upload.key, algorithm_override={"algorithm": "sha384_ecdsa"}
    )
    assert rejected(data) == Reason.CMS_ALGORITHM


def test_signature_scheme_must_fit_the_key(world: World) -> None:
    rsa_upload = world.rsa_upload
    data = build_cms(world.dsc.der, rsa_upload.der, rsa_upload.key, algorithm_override={"algorithm": "sha256_ecdsa"})
    assert rejected(data) == Reason.CMS_ALGORITHM
    data = build_cms(
        world.dsc.der, world.xa.upload.der, world.xa.upload.key, algorithm_override={"algorithm": "rsassa_pkcs1v15"}
    )
    assert rejected(data) == Reason.CMS_ALGORITHM


def test_unknown_signature_algorithm(world: World) -> None:
    data = build_cms(
        world.dsc.der, world.xa.upload.der, world.xa.upload.key, algorithm_override={"algorithm": "1.2.3.4"}
    )
    assert rejected(data) == Reason.CMS_ALGORITHM


def test_pss_with_sha1_mgf_is_refused(world: World) -> None:
    data = build_cms(world.dsc.der, world.rsa_upload.der, world.rsa_upload.key, scheme="pss")
    mgf = {"algorithm": "mgf1", "parameters": {"algorithm": "sha1"}}
    assert rejected(with_pss_parameter(data, "mask_gen_algorithm", mgf)) == Reason.CMS_DIGEST_SHA1
    mgf = {"algorithm": "mgf1", "parameters": {"algorithm": "md5"}}
    assert rejected(with_pss_parameter(data, "mask_gen_algorithm", mgf)) == Reason.CMS_ALGORITHM


@pytest.mark.parametrize("signer", ["ec256", "ec384", "rsa-pkcs1v15", "rsa-pss"])
def test_tampered_signature(world: World, signer: str) -> None:
    issued = {"ec256": world.xa.upload, "ec384": world.p384_upload}.get(signer, world.rsa_upload)
    scheme = "pss" if signer == "rsa-pss" else None
    data = build_cms(world.dsc.der, issued.der, issued.key, scheme=scheme, tamper_signature=True)
    assert rejected(data) == Reason.CMS_SIGNATURE_INVALID


def test_signature_by_another_key(world: World) -> None:
    data = build_cms(world.dsc.der, world.xa.upload.der, world.other_key)
    assert rejected(data) == Reason.CMS_SIGNATURE_INVALID


def test_pss_salt_length_mismatch(world: World) -> None:
    data = build_cms(world.dsc.der, world.rsa_upload.der, world.rsa_upload.key, scheme="pss")
    assert rejected(with_pss_parameter(data, "salt_length", 20)) == Reason.CMS_SIGNATURE_INVALID


def test_content_swapped_after_signing(world: World) -> None:
    """The signature covers the attributes, the attributes cover the content: swap the content."""
    info = acms.ContentInfo.load(world.message)
    info["content"]["encap_content_info"] = acms.ContentInfo({"content_type": "data", "content": world.xa.dsc().der})
    assert rejected(info.dump(force=True)) == Reason.CMS_MESSAGE_DIGEST


# --- hostile encodings --------------------------------------------------------------------------


@pytest.mark.parametrize("garbage", [b"\x00", b"\x00\x00", b"garbage", b"\x30\x00"])
def test_trailing_garbage(world: World, garbage: bytes) -> None:
    assert rejected(world.message + garbage) == Reason.CMS_PARSE


def test_truncation_at_every_offset(world: World) -> None:
    """2b: cut a valid CMS at every offset; each prefix is refused with a typed error, never another one."""
    data = world.message
    reasons = set()
    for cut in range(len(data)):
        try:
            cms.parse_attached(data[:cut])
        except Rejected as exc:
            reasons.add(exc.reason)
        else:
            pytest.fail(f"prefix of {cut} octets accepted")
    assert reasons == {Reason.CMS_PARSE}


@needs_openssl
def test_truncation_of_ber_message(world: World, tmp_path: Path) -> None:
    data = openssl_sign(world.dsc.der, world.xa.upload, tmp_path, "-stream")
    for cut in range(len(data)):
        with pytest.raises(Rejected):
            cms.parse_attached(data[:cut])


def _fast_rejection(data: bytes) -> Reason:
    tracemalloc.start()
    started = time.perf_counter()
    try:
        reason = rejected(data)
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < 2.0
    assert peak < 64 * 1024 * 1024
    return reason


def test_deep_nesting_definite_lengths() -> None:
    assert _fast_rejection(nested_sequences(10_000)) == Reason.CMS_PARSE


def test_deep_nesting_indefinite_lengths() -> None:
    assert _fast_rejection(b"\x30\x80" * 10_000 + b"\x00\x00" * 10_000) == Reason.CMS_PARSE


def test_deep_nesting_inside_signed_data() -> None:
    """The nesting sits where SignedData belongs, so the outer ContentInfo parses first."""
    oid = core.ObjectIdentifier("1.2.840.113549.1.7.2").dump()
    for inner in (nested_sequences(10_000), b"\x30\x80" * 10_000 + b"\x00\x00" * 10_000):
        header = der_header(0xA0, len(inner))
        assert _fast_rejection(tlv(0x30, oid + header + inner)) == Reason.CMS_PARSE


def test_four_gigabyte_declared_length(world: World) -> None:
    assert _fast_rejection(b"\x30\x84\xff\xff\xff\xff" + b"\x00" * 64) == Reason.CMS_PARSE
    assert _fast_rejection(b"\x30\x88" + b"\xff" * 8 + b"\x00" * 64) == Reason.CMS_PARSE
    # the same inside a real message: the eContent OCTET STRING claims 4 GiB
    data = world.message
    payload_header = der_header(0x04, len(world.dsc.der))
    assert data.count(payload_header + world.dsc.der[:8]) == 1
    hostile = data.replace(payload_header + world.dsc.der[:8], b"\x04\x84\xff\xff\xff\xff" + world.dsc.der[:8])
    assert _fast_rejection(hostile) == Reason.CMS_PARSE


def test_random_junk_is_refused() -> None:
    for data in (b"", b"\x00", b"\x30", b"\x30\x80", b"hello world", bytes(range(256))):
        assert rejected(data) == Reason.CMS_PARSE


# --- detach / attach ----------------------------------------------------------------------------


def test_detach_attach_round_trip(world: World) -> None:
    detached = cms.detach(world.message)
    assert world.dsc.der not in detached
    assert rejected(detached) == Reason.CMS_DETACHED
    assert cms.verify_detached(detached, world.dsc.der).signer_der == world.xa.upload.der
    assert rejected(detached, detached=world.xa.dsc().der) == Reason.CMS_MESSAGE_DIGEST
    assert cms.attach(detached, world.dsc.der) == world.message
    assert cms.parse_attached(cms.attach(detached, world.dsc.der)).payload == world.dsc.der


@needs_openssl
@pytest.mark.parametrize("signer", ["ec256", "rsa-pss"])
def test_detached_output_verifies_with_openssl(world: World, tmp_path: Path, signer: str) -> None:
    if signer == "ec256":
        data = world.message
    else:
        data = build_cms(world.dsc.der, world.rsa_upload.der, world.rsa_upload.key, scheme="pss")
    detached = cms.detach(data)
    result = openssl_verify(detached, tmp_path, content=world.dsc.der)
    assert result.returncode == 0, result.stderr
    tampered = openssl_verify(detached, tmp_path, content=world.dsc.der + b"\x00")
    assert tampered.returncode != 0


@needs_openssl
def test_detach_of_ber_upload_verifies_with_openssl(world: World, tmp_path: Path) -> None:
    data = openssl_sign(world.dsc.der, world.xa.upload, tmp_path, "-stream")
    detached = cms.detach(data)
    assert openssl_verify(detached, tmp_path, content=world.dsc.der).returncode == 0
    assert cms.verify_detached(detached, world.dsc.der).payload == world.dsc.der
    assert cms.parse_attached(cms.attach(detached, world.dsc.der)).payload == world.dsc.der


def test_sign_detached_and_attached(world: World) -> None:
    detached = cms.sign(b"hello", world.xa.upload.certificate, world.xa.upload.key, detached=True)
    attached = cms.sign(b"hello", world.xa.upload.certificate, world.xa.upload.key, detached=False)
    assert cms.verify_detached(detached, b"hello").payload == b"hello"
    assert cms.parse_attached(attached).payload == b"hello"
    rsa_signed = cms.sign(b"hello", world.rsa_upload.certificate, world.rsa_upload.key, detached=False)
    assert cms.parse_attached(rsa_signed).signer_der == world.rsa_upload.der


# --- regressions: each must be a named rejection, never another exception nor an acceptance ------


@needs_openssl
def test_detach_of_key_identifier_message(world: World, tmp_path: Path) -> None:
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key, sid="ski")
    assert cms.parse_attached(data).payload == world.dsc.der  # accepted ...
    detached = cms.detach(data)  # ... but cannot be re-encoded: TypeError
    assert openssl_verify(detached, tmp_path, content=world.dsc.der).returncode == 0
    assert cms.attach(detached, world.dsc.der)


def test_signer_with_unknown_key_algorithm(world: World) -> None:
    signer = with_unknown_key_algorithm(world.xa.upload.der, world.xa.upload.key)
    assert rejected(build_cms(world.dsc.der, signer, world.xa.upload.key)) in {
        Reason.CMS_ALGORITHM,
        Reason.CERTIFICATE_PARSE,
    }


def test_signer_with_invalid_ec_point(world: World) -> None:
    signer = with_invalid_ec_point(world.xa.upload.der, world.xa.upload.key)
    assert isinstance(rejected(build_cms(world.dsc.der, signer, world.xa.upload.key)), Reason)


def test_signer_with_duplicate_extension_and_key_identifier_sid(world: World) -> None:
    signer = with_duplicate_extension(world.xa.upload.der, world.xa.upload.key)
    data = build_cms(world.dsc.der, signer, world.xa.upload.key, sid="ski", sid_source=world.xa.upload.der)
    assert isinstance(rejected(data), Reason)


def test_signer_with_malformed_issuer_name(world: World) -> None:
    signer = with_malformed_issuer(world.xa.upload.der, world.xa.upload.key)
    data = build_cms(world.dsc.der, signer, world.xa.upload.key, sid_source=world.xa.upload.der)
    assert isinstance(rejected(data), Reason)


def test_signer_with_invalid_x509_version(world: World) -> None:
    signer = with_version(world.xa.upload.der, world.xa.upload.key, 3)
    assert rejected(build_cms(world.dsc.der, signer, world.xa.upload.key)) == Reason.CERTIFICATE_PARSE


def _with_sid(world: World, make_sid) -> bytes:
    data = build_cms(world.dsc.der, world.xa.upload.der, world.xa.upload.key)
    sid = acms.ContentInfo.load(data)["content"]["signer_infos"][0]["sid"]
    issuer, serial = sid.chosen["issuer"].dump(), sid.chosen["serial_number"].dump()
    return replace_element(data, sid.dump(), make_sid(issuer, serial))


@pytest.mark.parametrize(
    "make_sid",
    [
        pytest.param(lambda issuer, serial: tlv(0x30, serial), id="issuer-missing"),
        pytest.param(lambda issuer, serial: tlv(0x30, tlv(0x31, b"") + serial), id="issuer-is-a-set"),
        pytest.param(lambda issuer, serial: tlv(0x30, issuer + tlv(0x22, serial)), id="serial-constructed"),
    ],
)
def test_malformed_sid_issuer_and_serial(world: World, make_sid) -> None:
    assert rejected(_with_sid(world, make_sid)) in {Reason.CMS_PARSE, Reason.CMS_SIGNER_MISMATCH}


def test_pss_negative_salt_length(world: World) -> None:
    data = build_cms(world.dsc.der, world.rsa_upload.der, world.rsa_upload.key, scheme="pss")
    assert rejected(with_pss_parameter(data, "salt_length", -1)) == Reason.CMS_ALGORITHM


def test_pss_huge_salt_length(world: World) -> None:
    data = build_cms(world.dsc.der, world.rsa_upload.der, world.rsa_upload.key, scheme="pss")
    assert isinstance(rejected(with_pss_parameter(data, "salt_length", 2**70)), Reason)


def test_pss_hash_parameter_must_agree(world: World) -> None:
    data = build_cms(world.dsc.der, world.rsa_upload.der, world.rsa_upload.key, scheme="pss")
    relabelled = with_pss_parameter(data, "hash_algorithm", {"algorithm": "sha1"})
    assert rejected(relabelled) in {Reason.CMS_ALGORITHM, Reason.CMS_SIGNATURE_INVALID}


def test_pss_trailer_field_is_checked(world: World) -> None:
    data = build_cms(world.dsc.der, world.rsa_upload.der, world.rsa_upload.key, scheme="pss")
    assert rejected(with_pss_parameter(data, "trailer_field", 2)) == Reason.CMS_ALGORITHM


def test_base64_without_padding_is_accepted_like_javas_decoder() -> None:
    # DGCG clients are Java; java.util.Base64's basic decoder accepts missing padding.
    assert cms.decode_base64_body(b"QUI") == b"AB"
