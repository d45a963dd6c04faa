"""Golden test: the bytes the gateway puts on the wire for one seeded scenario.

A change of structure (moving a module or a model, splitting a file) must not change what
verifiers download or what country backends and auditors receive; a change of behaviour shows
here as a reviewed change of the golden files (regenerated as below). This test
runs one scenario through the public entry points (HTTP with identity headers, management
commands, publication after commit, eager as in the embedded mode) and compares with
``tests/golden/``:

``published.json``
    ``files``: every file of GATEWAY_PUBLISH_DIR after the scenario (index, full lists and their
    .gz twins, deltas, spans, did.json, the two lock files); ``indexes``: the last index each
    step of the scenario published, in order.
``api.json``
    every HTTP exchange of the scenario, in order: the request, the status, the headers the
    gateway sets (Content-Type, Content-Length, ETag, Cache-Control, Vary, ...) and the body:
    uploads (201), revocations (204), the refusals (duplicate upload 409, re-upload of a revoked
    DSC 409, unknown upload certificate 400, bad CMS 400, unknown client certificate 401),
    /trustList, /trustList/DSC, /trustList/DSC/XA, /trustList/CSCA/XB, /countrylist, an
    If-Modified-Since delta, /trustList/certificate (all, and filtered), and a delta and the
    index as /publication serves them.
``audit.json``
    every audit leaf as /audit/leaves serves it: the bytes it hashes (base64, and decoded into
    its fields, so that a difference names the field) and its hash; every checkpoint (tree
    head, with its JWS); one inclusion and one consistency proof.

Determinism: every input is fixed. EC keys are derived from fixed labels
(``ec.derive_private_key`` of SHA-256 of the label), the two RSA keys are PEMs in
``tests/golden/keys``; serial numbers are fixed; time is frozen and moved by fixed steps; the
publisher keys that ``publisher_key csr`` generates are pinned by replacing
``gateway.pki.issuance.new_key`` for that call (checked: the CSR must carry the pinned key). The
certificates, the trust anchor's onboarding signatures and the countries' upload CMS are signed
here with deterministic ECDSA (RFC 6979) or RSA PKCS#1 v1.5, so the CMS signatures the API
serves back are compared byte for byte like everything else, with no mask. The database
sequences are reset (``reset_sequences``): publication sequence numbers are database ids, and
the audit events of publications name them; PostgreSQL does not rewind its sequences between
tests otherwise (rolled-back tests advance them too). The same bytes are expected on SQLite and
PostgreSQL.

What is masked, and why. The gateway's own ES256 signatures (the publisher's: the index, the
full lists, the DID document's proof, the audit checkpoints) come from ``cryptography``, which
draws a fresh nonce for every signature, so their bytes differ on every run. For each one the
test verifies the signature with the publisher key its ``kid`` names (derived here, so known),
checks that the compact parts are the unpadded base64url of exactly the header and payload it
records, and replaces only the signature by ``<ES256 signature by KID: verified>``: the
protected header and the payload, hence the signing input, are compared exactly. (For the DID
document: the detached ``b64=false`` signature is verified over the header and the document
without its proof.) A random signature makes the SHA-256 of its file random too: wherever such
a hash appears (the index naming the full lists, the ETag of a served file) it was computed
here from that very file or body, and is replaced by ``<sha256 of NAME>``. A .gz twin is
checked to decompress to its file; its gzip header is compared, and so is the zlib level whose
output it equals byte for byte. TNG entries' ``uuid`` is ``uuid4`` (a model default, random by
design and derived from nothing): each is checked to be a version 4 UUID and replaced by
``<uuid N>``, N counting distinct values in order of appearance, so which entries share a uuid
is still compared; that body's ETag is then masked as above. Nothing else is masked. (Request
ids and Celery task ids are random too, but reach only the logs.)

Regenerating, after an intended change on the wire (then review ``git diff tests/golden``)::

    GATEWAY_GOLDEN_WRITE=1 .venv/bin/pytest tests/test_golden.py

A normal run never writes. On a difference it fails naming, for each golden file, the first
differences: the path inside the file and, for texts, the first differing character with the
text around it on both sides.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import re
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms as asn1_cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.management import call_command

from tests.factory import NOW
from verifier.certificates import PUBLISHER_USAGE_OID

# Real commits, so that publication runs after commit as in production (eagerly here); sequences
# reset, because publication sequences and audit leaf indexes are database ids.
pytestmark = pytest.mark.django_db(transaction=True, reset_sequences=True)

GOLDEN = Path(__file__).parent / "golden"
WRITE = os.environ.get("GATEWAY_GOLDEN_WRITE") == "1"
PER_FILE = 6  # differences reported per golden file

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
EKU_TEST = x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.1")
EKU_VACCINATION = x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.2")
EKU_RECOVERY = x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.3")

# Every publication setting, so that the scenario does not depend on the environment (several
# defaults depend on REDIS_URL): a rebuild of the full lists after 3 deltas or 30 minutes, a span
# after an hour.
PUBLICATION_SETTINGS = {
    "GATEWAY_PUBLISH_VALIDITY": 48 * 3600,
    "GATEWAY_PUBLISH_RENEW_AFTER": 12 * 3600,
    "GATEWAY_PUBLISH_DELTA_WINDOW": 100,
    "GATEWAY_PUBLISH_DELTA_WINDOW_SECONDS": 86400,
    "GATEWAY_PUBLISH_DELTA_WINDOW_MAX": 1000,
    "GATEWAY_PUBLISH_SPAN_SECONDS": 3600,
    "GATEWAY_PUBLISH_SPAN_KEEP_SECONDS": 30 * 86400,
    "GATEWAY_PUBLISH_KEEP_FULL": 3,
    "GATEWAY_PUBLISH_DID": True,
    "GATEWAY_PUBLISH_FULL_AFTER_DELTAS": 3,
    "GATEWAY_PUBLISH_FULL_AFTER_SECONDS": 1800,
    "GATEWAY_DID_ID": "did:web:gateway.example:trustlist",
    "GATEWAY_VIRTUAL_COUNTRY_ALPHA3": {"XA": "XXA", "XB": "XXB", "XC": "XXC"},
    "GATEWAY_AUDIT_ORIGIN": "trust-gateway.example/audit",
}


# --- fixed key material and certificates --------------------------------------------------------


def ec_key(label: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key whose private value is SHA-256 of the label (reduced into [1, n-1])."""
    digest = hashlib.sha256(f"trust gateway golden test: {label}".encode()).digest()
    return ec.derive_private_key(int.from_bytes(digest, "big") % (P256_ORDER - 1) + 1, ec.SECP256R1())


def rsa_key(name: str) -> rsa.RSAPrivateKey:
    # RSA keys cannot be derived from a number as simply; these were generated once and kept.
    key = serialization.load_pem_private_key((GOLDEN / "keys" / f"{name}.key.pem").read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


@dataclass(frozen=True)
class Cert:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def thumbprint(self) -> str:
        return hashlib.sha256(self.der).hexdigest()


def _name(common_name: str, country: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COUNTRY_NAME, country)] if country else []
    return x509.Name([*attributes, x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _sign(builder: Any, key: Any) -> x509.Certificate:
    # RFC 6979 for EC issuers; RSA PKCS#1 v1.5 is deterministic by itself.
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return builder.sign(key, hashes.SHA256(), ecdsa_deterministic=True)
    return builder.sign(key, hashes.SHA256())


def issue(
    subject: x509.Name,
    key: Any,
    *,
    serial: int,
    issuer: Cert | None = None,
    days: int = 365,
    ca: bool = False,
    eku: list[x509.ObjectIdentifier] | None = None,
) -> Cert:
    """A certificate of the shape gateway.pki.issuance makes, with a fixed serial and signature."""
    signing_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(not ca, False, False, False, False, ca, ca, False, False),
            critical=True,
        )
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return Cert(_sign(builder, signing_key), key)


def certify(csr_pem: bytes, ta: Cert, *, serial: int) -> x509.Certificate:
    """The trust anchor certifying a publisher key's CSR, as `publisher_key demo-certify` does
    (gateway.pki.issuance.certify_csr), with a fixed serial and a deterministic signature."""
    csr = x509.load_pem_x509_csr(csr_pem)
    assert csr.is_signature_valid
    builder = (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ta.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - dt.timedelta(minutes=5))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([PUBLISHER_USAGE_OID]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ta.key.public_key()), critical=False)
    )
    return _sign(builder, ta.key)


def cms_sign(content: bytes, signer: Cert, *, detached: bool, deterministic: bool = True) -> bytes:
    """CMS SignedData as country backends and `ta_sign` make it (gateway.pki.cms.sign: binary,
    no capabilities), with a deterministic signature: cryptography's builder signs EC with a
    random nonce, so its signature over the signed attributes is replaced by an RFC 6979 one."""
    options = [pkcs7.PKCS7Options.Binary, pkcs7.PKCS7Options.NoCapabilities]
    if detached:
        options.append(pkcs7.PKCS7Options.DetachedSignature)
    builder = (
        pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(signer.certificate, signer.key, hashes.SHA256())
    )
    der = builder.sign(serialization.Encoding.DER, options)
    if isinstance(signer.key, rsa.RSAPrivateKey) or not deterministic:
        return der
    info = asn1_cms.ContentInfo.load(der)
    assert info.dump(force=True) == der, "re-encoding must not change the message"
    signer_info = info["content"]["signer_infos"][0]
    # The signature covers the DER of the signed attributes as a SET OF (RFC 5652 §5.4).
    attributes = signer_info["signed_attrs"].dump()
    signer_info["signature"] = signer.key.sign(
        b"\x31" + attributes[1:], ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
    )
    return info.dump(force=True)


@dataclass(frozen=True)
class Country:
    code: str
    auth: Cert
    upload: Cert
    csca: Cert

    def headers(self) -> dict[str, str]:
        """Identity headers as nginx sets them after the mutual TLS handshake."""
        return {
            "HTTP_X_SSL_CLIENT_SHA256": self.auth.thumbprint,
            "HTTP_X_SSL_CLIENT_DN": f"CN={self.code} TLS,C={self.code}",
        }


def make_country(code: str, ta: Cert, serial: int, *, upload_key: Any = None) -> Country:
    return Country(
        code,
        auth=issue(
            _name(f"{code} TLS", code), ec_key(f"{code} auth"), serial=serial, eku=[ExtendedKeyUsageOID.CLIENT_AUTH]
        ),
        upload=issue(_name(f"{code} upload", code), upload_key or ec_key(f"{code} upload"), serial=serial + 1),
        csca=issue(_name(f"{code} CSCA", code), ec_key(f"{code} CSCA"), serial=serial + 2, days=1460, ca=True),
    )


def dsc(country: Country, name: str, key: Any, serial: int, eku: list[x509.ObjectIdentifier]) -> Cert:
    return issue(_name(f"{country.code} DSC {name}", country.code), key, serial=serial, issuer=country.csca, eku=eku)


# --- normalisation: what is compared ---------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Golden:
    """What the scenario produced, normalised, and the facts the masks were checked against."""

    publishers: dict[str, ec.EllipticCurvePublicKey] = field(default_factory=dict)  # kid -> key
    hashes: dict[str, str] = field(default_factory=dict)  # random-bearing SHA-256 hex -> its name
    uuids: dict[str, str] = field(default_factory=dict)
    published: dict[str, Any] = field(default_factory=dict)
    api: list[dict[str, Any]] = field(default_factory=list)
    audit: dict[str, Any] = field(default_factory=dict)

    def add_publisher(self, certificate: x509.Certificate) -> None:
        der = certificate.public_bytes(serialization.Encoding.DER)
        public = certificate.public_key()
        assert isinstance(public, ec.EllipticCurvePublicKey)
        self.publishers[hashlib.sha256(der).hexdigest()] = public

    def random_hash(self, data: bytes, name: str) -> None:
        digest = hashlib.sha256(data).hexdigest()
        if digest in self.hashes:
            return
        taken = set(self.hashes.values())
        label, n = name, 1
        while label in taken:  # the same path with other bytes (did.json after a rebuild)
            n += 1
            label = f"{name} #{n}"
        self.hashes[digest] = label

    def mask_hashes(self, text: str) -> str:
        """Replace every SHA-256 of bytes with a random signature in them (each was computed
        here from those very bytes) by the name of what it hashes."""
        return re.sub(
            r"[0-9a-f]{64}", lambda m: f"<sha256 of {self.hashes[m[0]]}>" if m[0] in self.hashes else m[0], text
        )

    def mask_uuids(self, text: str) -> str:
        def label(match: re.Match[str]) -> str:
            value = match[0]
            assert uuid.UUID(value).version == 4, value
            return self.uuids.setdefault(value, f"<uuid {len(self.uuids) + 1}>")

        return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", label, text)

    def signature_mask(self, signing_input: bytes, signature_b64url: str, kid: str) -> str:
        """Verify an ES256 JWS signature (raw r‖s) with the publisher key ``kid`` names."""
        key = self.publishers.get(kid)
        assert key is not None, f"signed by an unknown publisher key {kid}"
        raw = unb64url(signature_b64url)
        assert len(raw) == 64, "an ES256 signature is r and s, 32 bytes each"
        assert b64url(raw) == signature_b64url, "not unpadded base64url"
        der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
        try:
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            raise AssertionError(f"an ES256 signature by {kid} does not verify over {signing_input[:60]!r}…") from None
        return f"<ES256 signature by {kid}: verified>"

    def compact_jws(self, data: str) -> dict[str, str]:
        """A compact JWS as its exact header and payload texts and its verified signature."""
        parts = data.split(".")
        assert len(parts) == 3, "not a compact JWS"
        header, payload = unb64url(parts[0]), unb64url(parts[1])
        assert (b64url(header), b64url(payload)) == (parts[0], parts[1]), "not canonical unpadded base64url"
        kid = json.loads(header)["kid"]
        return {
            "header": header.decode("utf-8"),
            "payload": payload.decode("utf-8"),
            "signature": self.signature_mask(f"{parts[0]}.{parts[1]}".encode(), parts[2], kid),
        }


def normalise_file(golden: Golden, root: Path, path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    relative = path.relative_to(root).as_posix()
    if relative.endswith(".gz"):
        plain = path.with_name(path.name[:-3]).read_bytes()
        assert gzip.decompress(data) == plain, f"{relative} does not decompress to its twin"
        levels = [level for level in range(10) if _gzip(plain, level) == data]
        golden.random_hash(data, relative)
        return {"gzipOf": relative[:-3], "header": data[:10].hex(), "sameAsZlibLevel": levels[:1] or None}
    text = data.decode("utf-8")
    if relative == "did.json":
        return {"didDocument": _did(golden, text, data, relative)}
    if text.count(".") == 2 and re.fullmatch(r"[A-Za-z0-9_\-.]+", text):
        golden.random_hash(data, relative)
        return {"jws": golden.compact_jws(text)}
    return {"text": text}


def _gzip(data: bytes, level: int) -> bytes:
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # a gzip member with mtime 0
    return compressor.compress(data) + compressor.flush()


def _did(golden: Golden, text: str, data: bytes, relative: str) -> str:
    """The DID document with its detached proof (RFC 7797, b64=false) verified and its signature
    masked: the signing input is the protected header, a dot and the document without its proof."""
    proof = json.loads(text)["proof"]
    protected, empty, signature = proof["jws"].split(".")
    assert empty == "", "the proof is a detached JWS"
    assert json.loads(unb64url(protected))["b64"] is False
    cut = text.rindex(',"proof":')
    signed = text[:cut] + "}"
    mask = golden.signature_mask(
        protected.encode() + b"." + signed.encode(), signature, json.loads(unb64url(protected))["kid"]
    )
    golden.random_hash(data, relative)
    return text.replace(f"{protected}..{signature}", f"{protected}..{mask}")


def normalise_folder(golden: Golden, root: Path) -> dict[str, Any]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    # Plain files and JWS first: a .gz twin's record names its file, whose hash is registered.
    result = {p.relative_to(root).as_posix(): normalise_file(golden, root, p) for p in files if p.suffix != ".gz"}
    result.update({p.relative_to(root).as_posix(): normalise_file(golden, root, p) for p in files if p.suffix == ".gz"})
    return dict(sorted(result.items()))


# --- the scenario -------------------------------------------------------------------------------------


SERVED_HEADERS = ("Content-Type", "Content-Length", "Content-Encoding", "ETag", "Cache-Control", "Retry-After", "Vary")


class Scenario:
    def __init__(self, client: Any, frozen: Any, tmp_path: Path, monkeypatch: Any, settings: Any) -> None:
        self.client = client
        self.frozen = frozen
        self.tmp = tmp_path
        self.monkeypatch = monkeypatch
        self.settings = settings
        self.golden = Golden()
        self.root = Path(settings.GATEWAY_PUBLISH_DIR)
        self.seen_sequence: int | None = None
        self.published_indexes: list[dict[str, Any]] = []

    # time, HTTP, commands ----------------------------------------------------------------------

    def at(self, minutes: int) -> None:
        self.frozen.move_to(NOW + dt.timedelta(minutes=minutes))

    def request(
        self, label: str, method: str, path: str, *, who: Country | None, body: bytes | None = None, **extra: str
    ):
        headers = {**(who.headers() if who else {}), **extra}
        call = getattr(self.client, method.lower())
        if body is None:
            response = call(path, **headers)
        else:
            response = call(path, body, content_type="application/cms", **headers)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        text: Any = content.decode("utf-8")
        if path.endswith(".jws"):
            # Decoded: its payload names the full lists by hashes that the marks replace.
            text = self.golden.compact_jws(text)
        elif "/trustList/certificate" in path:
            masked = self.golden.mask_uuids(text)
            if masked != text:
                self.golden.random_hash(content, f"the body of {label}")
            text = masked
        record = {
            "step": label,
            "request": f"{method} {path}" + (f" as {who.code}" if who else ""),
            "requestHeaders": dict(extra),
            "status": response.status_code,
            "headers": {name: response[name] for name in SERVED_HEADERS if response.has_header(name)},
            "body": text,
        }
        self.golden.api.append(record)
        self.capture_index(label)
        return response

    def command(self, label: str, *args: str) -> None:
        call_command(*args, stdout=io.StringIO())
        self.capture_index(label)

    def capture_index(self, step: str) -> None:
        """Keep every index the scenario published (each step publishes after commit)."""
        index = self.root / "index.jws"
        if not index.exists():
            return
        for path in self.root.rglob("*"):  # the files it names: their hashes are random too
            if path.is_file() and (path.suffix in (".jws", ".gz") or path.name == "did.json"):
                self.golden.random_hash(path.read_bytes(), path.relative_to(self.root).as_posix())
        normalised = self.golden.compact_jws(index.read_text())
        sequence = json.loads(normalised["payload"])["sequence"]
        if sequence != self.seen_sequence:
            self.seen_sequence = sequence
            self.published_indexes.append({"after": step, **normalised})

    # the parties -------------------------------------------------------------------------------

    def pki(self) -> None:
        self.ta = issue(_name("Golden Trust Anchor"), ec_key("trust anchor"), serial=0x7A0001, days=3650, ca=True)
        (self.tmp / "ta.pem").write_bytes(self.ta.pem)
        self.settings.GATEWAY_TRUST_ANCHOR_FILES = [str(self.tmp / "ta.pem")]
        self.xa = make_country("XA", self.ta, 0x10A000)
        # XB's UPLOAD key is RSA: its CMS are signed with PKCS#1 v1.5
        self.xb = make_country("XB", self.ta, 0x10B000, upload_key=rsa_key("xb-upload"))
        self.xc = make_country("XC", self.ta, 0x10C000)
        self.a1 = dsc(self.xa, "a1", ec_key("XA DSC a1"), 0x20A001, [EKU_VACCINATION])
        self.a2 = dsc(self.xa, "a2", ec_key("XA DSC a2"), 0x20A002, [EKU_VACCINATION, EKU_TEST, EKU_RECOVERY])
        self.a3 = dsc(self.xa, "a3", ec_key("XA DSC a3"), 0x20A003, [EKU_TEST])
        self.b1 = dsc(self.xb, "b1", ec_key("XB DSC b1"), 0x20B001, [EKU_RECOVERY])
        self.b2 = dsc(self.xb, "b2", rsa_key("xb-dsc-rsa"), 0x20B002, [EKU_VACCINATION])  # an RSA JWK in did.json
        self.c1 = dsc(self.xc, "c1", ec_key("XC DSC c1"), 0x20C001, [EKU_VACCINATION])
        # An UPLOAD certificate of XA that was never onboarded.
        self.xa_rogue = issue(_name("XA upload (not onboarded)", "XA"), ec_key("XA rogue upload"), serial=0x10AFFF)
        self.stranger = issue(_name("XD TLS", "XD"), ec_key("XD auth"), serial=0x10DFFF)

    def publisher_key(self, label: str, serial: int) -> None:
        """`publisher_key csr` and `install`, with the key the CSR step generates pinned: the
        command generates it through gateway.pki.issuance.new_key."""
        key = ec_key(f"publisher {label}")
        csr = self.tmp / f"{label}.csr"
        with self.monkeypatch.context() as patch:
            patch.setattr("gateway.pki.issuance.new_key", lambda kind="ec-p256": key)
            self.command(f"publisher_key csr {label}", "publisher_key", "csr", "--label", label, "--out", str(csr))
        certificate = certify(csr.read_bytes(), self.ta, serial=serial)
        assert certificate.public_key() == key.public_key(), "the publisher key was not the pinned one"
        self.golden.add_publisher(certificate)
        (self.tmp / f"{label}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        self.command(
            f"publisher_key install {label}",
            "publisher_key",
            "install",
            "--label",
            label,
            "--cert",
            str(self.tmp / f"{label}.pem"),
        )

    def onboard(self, country: Country) -> None:
        for kind, cert in (("AUTHENTICATION", country.auth), ("UPLOAD", country.upload), ("CSCA", country.csca)):
            pem, signature = self.tmp / f"{country.code}-{kind}.pem", self.tmp / f"{country.code}-{kind}.sig"
            pem.write_bytes(cert.pem)
            signature.write_text(base64.b64encode(cms_sign(cert.der, self.ta, detached=True)).decode() + "\n")
            self.command(
                f"onboard {country.code} {kind}",
                "onboard",
                "--country",
                country.code,
                "--type",
                kind,
                "--cert",
                str(pem),
                "--signature",
                str(signature),
            )

    def upload(self, label: str, country: Country, certificate: Cert, *, signer: Cert | None = None):
        body = base64.b64encode(cms_sign(certificate.der, signer or country.upload, detached=False))
        return self.request(label, "POST", "/signerCertificate", who=country, body=body)

    def revoke(self, label: str, country: Country, certificate: Cert):
        # Signed afresh, as a revocation must be (docs/policy.md): a deterministic signature in
        # the upload's second would be the upload's own. Nothing of it is recorded or served.
        body = base64.b64encode(cms_sign(certificate.der, country.upload, detached=False, deterministic=False))
        return self.request(label, "DELETE", "/signerCertificate", who=country, body=body)

    # the story ---------------------------------------------------------------------------------

    def run(self) -> None:
        self.pki()
        self.at(0)
        self.publisher_key("p1", 0x9B0001)
        self.command("publish (first)", "publish")
        self.at(5)
        for country in (self.xa, self.xb, self.xc):
            self.onboard(country)

        self.at(60)
        assert self.upload("upload XA a1", self.xa, self.a1).status_code == 201
        assert self.upload("upload XA a2", self.xa, self.a2).status_code == 201
        assert self.upload("upload XB b1", self.xb, self.b1).status_code == 201
        assert self.upload("upload XB b2 (RSA)", self.xb, self.b2).status_code == 201
        assert self.upload("upload XC c1", self.xc, self.c1).status_code == 201

        self.at(120)
        assert self.revoke("revoke XA a1", self.xa, self.a1).status_code == 204
        assert self.revoke("revoke XB b1", self.xb, self.b1).status_code == 204
        assert self.upload("duplicate upload XA a2", self.xa, self.a2).status_code == 409
        assert self.upload("re-upload of revoked XA a1", self.xa, self.a1).status_code == 409
        assert self.upload("unknown upload certificate", self.xa, self.a3, signer=self.xa_rogue).status_code == 400
        bad = self.request("bad CMS", "POST", "/signerCertificate", who=self.xa, body=base64.b64encode(b"not a CMS"))
        assert bad.status_code == 400
        stranger = Country("XD", self.stranger, self.stranger, self.stranger)
        assert self.request("unknown client certificate", "GET", "/trustList", who=stranger).status_code == 401

        self.at(150)  # rotation: p2 announced as NEXT, then signing; p1 announced as retired
        self.publisher_key("p2", 0x9B0002)
        self.command("publish --force (announce p2)", "publish", "--force")
        self.at(160)
        self.command("publisher_key activate-next", "publisher_key", "activate-next")
        self.command("publish --force (p2 signs)", "publish", "--force")

        self.at(200)  # XC's CSCA is compromised: c1 leaves the lists, the CSCA is listed revoked
        self.command(
            "remove XC CSCA",
            "set_onboarded_status",
            "remove",
            self.xc.csca.thumbprint,
            "--reason",
            "key compromise",
        )
        self.at(240)
        self.command("publish --rebuild", "publish", "--rebuild")

        self.at(241)
        for path in ("/trustList", "/trustList/DSC", "/trustList/DSC/XA", "/trustList/CSCA/XB", "/countrylist"):
            assert self.request(f"GET {path}", "GET", path, who=self.xa).status_code == 200
        since = (NOW + dt.timedelta(minutes=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.request("delta since 13:30", "GET", "/trustList/DSC", who=self.xb, HTTP_IF_MODIFIED_SINCE=since)
        self.request("TNG trust list", "GET", "/trustList/certificate", who=self.xb)
        self.request("TNG trust list, DSCs of XA", "GET", "/trustList/certificate?group=DSC&country=XA", who=self.xb)
        index = json.loads(self.published_indexes[-1]["payload"])
        self.request("served delta", "GET", f"/publication/{index['head']['path']}", who=None)
        self.request("served index", "GET", "/publication/index.jws", who=None)

    def audit(self) -> dict[str, Any]:
        """The audit log as auditors read it (/audit/leaves) and as anyone reads its heads."""
        leaves = self.client.get("/audit/leaves?start=0&count=1000")
        assert leaves.status_code == 200, leaves.content
        records = []
        for leaf in leaves.json()["leaves"]:
            data = base64.b64decode(leaf["leafBytes"])
            records.append(
                {
                    "index": leaf["index"],
                    "fields": _leaf_fields(data),
                    "leafBytes": leaf["leafBytes"],
                    "leafHash": leaf["leafHash"],
                }
            )
        checkpoints = self.client.get("/audit/checkpoints").json()["checkpoints"]
        for checkpoint in checkpoints:
            checkpoint["jws"] = self.golden.compact_jws(checkpoint["jws"])
        size = checkpoints[-1]["size"]
        proofs = [
            self.client.get(f"/audit/proof/inclusion?index=3&size={size}").json(),
            self.client.get(f"/audit/proof/consistency?first=7&second={size}").json(),
        ]
        return {"size": len(records), "leaves": records, "checkpoints": checkpoints, "proofs": proofs}


def _leaf_fields(data: bytes) -> list[str]:
    """A leaf's fields: a version byte, then 4-byte big-endian lengths and UTF-8 texts (the
    encoding gateway/pki/leaf.py documents, decoded here independently of it)."""
    fields, offset = [f"version {data[0]}"], 1
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        fields.append(data[offset + 4 : offset + 4 + length].decode("utf-8"))
        offset += 4 + length
    return fields


# --- comparison ---------------------------------------------------------------------------------------


def differences(expected: Any, actual: Any, where: str) -> list[str]:
    """Where ``actual`` departs from ``expected``: the path, and for texts the first differing
    position with the text around it."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in expected:
            if key not in actual:
                found.append(f"{where}[{key!r}]: missing")
            else:
                found += differences(expected[key], actual[key], f"{where}[{key!r}]")
        found += [f"{where}[{key!r}]: not expected" for key in actual if key not in expected]
        return found
    if isinstance(expected, list) and isinstance(actual, list):
        found = []
        for n, (left, right) in enumerate(zip(expected, actual, strict=False)):
            found += differences(left, right, f"{where}[{n}]")
        if len(expected) != len(actual):
            found.append(f"{where}: {len(expected)} items expected, {len(actual)} found")
        return found
    if expected == actual:
        return []
    if isinstance(expected, str) and isinstance(actual, str):
        at = next((n for n, (a, b) in enumerate(zip(expected, actual, strict=False)) if a != b), None)
        at = min(len(expected), len(actual)) if at is None else at
        return [
            f"{where}: differs at character {at} (lengths {len(expected)} and {len(actual)})\n"
            f"      expected …{expected[max(0, at - 60) : at + 60]!r}…\n"
            f"      found    …{actual[max(0, at - 60) : at + 60]!r}…"
        ]
    return [f"{where}: expected {expected!r}, found {actual!r}"]


def check_or_write(name: str, actual: Any) -> list[str]:
    path = GOLDEN / name
    text = json.dumps(actual, indent=1, ensure_ascii=False) + "\n"
    if WRITE:
        path.write_text(text)
        return []
    if not path.exists():
        return [f"{path} is missing: GATEWAY_GOLDEN_WRITE=1 writes it"]
    return differences(json.loads(path.read_text()), json.loads(text), f"tests/golden/{name}")


# --- the test -------------------------------------------------------------------------------------------


def test_wire_bytes_are_the_golden_ones(client, frozen, tmp_path, monkeypatch, settings):
    # Publication after commit runs in this process only in the embedded mode (no REDIS_URL), as
    # in every test run of the suite; with a broker it would happen elsewhere, later.
    assert settings.CELERY_TASK_ALWAYS_EAGER, "the golden scenario needs eager tasks (REDIS_URL unset)"
    for name, value in PUBLICATION_SETTINGS.items():
        setattr(settings, name, value)
    cache.clear()  # publication flags left by another test would hold back a publication
    scenario = Scenario(client, frozen, tmp_path, monkeypatch, settings)
    scenario.run()

    golden = scenario.golden
    files = normalise_folder(golden, scenario.root)
    published = {
        "files": {path: _masked(golden, record) for path, record in files.items()},
        "indexes": [_masked(golden, record) for record in scenario.published_indexes],
    }
    api = [_masked(golden, record) for record in golden.api]

    auditor = get_user_model().objects.create_superuser("golden-auditor", "auditor@gateway.example", None)
    client.force_login(auditor)
    audit = scenario.audit()

    report = []
    for name, actual in (("published.json", published), ("api.json", api), ("audit.json", audit)):
        found = check_or_write(name, actual)
        # The first few of each file: one change usually shows in all three (an audit leaf also
        # moves the tree head every index names), and each file's first difference says most.
        report += found[:PER_FILE] + (
            [f"… and {len(found) - PER_FILE} more in {name}"] if len(found) > PER_FILE else []
        )
    assert not report, "the bytes on the wire changed:\n" + "\n".join(report)


def _masked(golden: Golden, value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _masked(golden, item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(golden, item) for item in value]
    if isinstance(value, str):
        return golden.mask_hashes(value)
    return value
