"""verifier/jws.py verifies a compact JWS on its bytes with ``cryptography``'s primitives. PyJWT
(what it used before, still a test dependency) is the reference: every valid JWS both accept, with
the same header and payload; every tampered one both refuse. Where this verifier is stricter than
PyJWT (padding), the test says so."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding

from gateway.pki import issuance
from tests.factory import NOW, Pki
from verifier.certificates import load_anchor
from verifier.jws import verify_jws
from verifier.reasons import PublicationReason, VerificationError

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run


def b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


class Publisher:
    """A publisher key certified by a test trust anchor, and the JWS it signs (any header)."""

    def __init__(self, curve: ec.EllipticCurve | None = None) -> None:
        self.pki = Pki.create()
        self.key = ec.generate_private_key(curve or ec.SECP256R1())
        csr = issuance.csr_for(self.key, issuance.name("Publisher"), publisher=True)
        self.certificate = issuance.certify_csr(csr, ca=self.pki.ta, at=NOW, days=365)
        self.der = self.certificate.public_bytes(Encoding.DER)
        self.kid = hashlib.sha256(self.der).hexdigest()
        self.anchors = [load_anchor(self.pki.ta.cert_pem)]

    def header(self, **changes: Any) -> dict[str, Any]:
        value = {"alg": "ES256", "kid": self.kid, "x5c": [base64.b64encode(self.der).decode("ascii")]}
        value.update(changes)
        return {name: item for name, item in value.items() if item is not None}

    def raw_signature(self, signing_input: bytes) -> bytes:
        r, s = decode_dss_signature(self.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        size = (self.key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    def sign(self, payload: bytes, *, header: dict[str, Any] | None = None, detached: bool = False) -> bytes:
        protected = b64url(json.dumps(header or self.header(), sort_keys=True, separators=(",", ":")).encode())
        if detached:
            return protected + b".." + b64url(self.raw_signature(protected + b"." + payload))
        signing_input = protected + b"." + b64url(payload)
        return signing_input + b"." + b64url(self.raw_signature(signing_input))


@pytest.fixture(scope="module")
def publisher() -> Publisher:
    return Publisher()


PAYLOADS = [b'{"sequence":1}', b"", b"x", b"xy", b'{"a":"\xc3\xa9"}', bytes(range(256)) * 3]


def ours(publisher: Publisher, data: bytes, detached: bytes | None = None) -> tuple[dict[str, Any], bytes] | str:
    try:
        header, payload, kid = verify_jws(data, publisher.anchors, NOW, detached_payload=detached)
    except VerificationError as error:
        return str(error.reason)
    assert kid == publisher.kid
    return header, payload


def pyjwt(publisher: Publisher, data: bytes, detached: bytes | None = None) -> tuple[dict[str, Any], bytes] | str:
    try:
        decoded = jwt.api_jws.decode_complete(
            data, key=publisher.certificate.public_key(), algorithms=["ES256"], detached_payload=detached
        )
    except (jwt.exceptions.PyJWTError, TypeError, ValueError) as error:
        return type(error).__name__
    return decoded["header"], decoded["payload"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_valid_jws_is_accepted_with_the_header_and_payload_pyjwt_reads(publisher, payload):
    data = publisher.sign(payload)
    assert ours(publisher, data) == pyjwt(publisher, data) == (publisher.header(), payload)


def test_a_valid_detached_jws_is_accepted_as_pyjwt_accepts_it(publisher):
    header = publisher.header(b64=False, crit=["b64"])
    data = publisher.sign(b'{"id":"did:web:x"}', header=header, detached=True)
    expected = (header, b'{"id":"did:web:x"}')
    assert ours(publisher, data, b'{"id":"did:web:x"}') == pyjwt(publisher, data, b'{"id":"did:web:x"}') == expected


def test_a_trailing_newline_is_tolerated_as_before(publisher):
    data = publisher.sign(b"{}")
    assert ours(publisher, data + b"\n") == (publisher.header(), b"{}")


def _flip(data: bytes, position: int) -> bytes:
    """One base64url character changed into another of the alphabet."""
    character = data[position : position + 1]
    replacement = b"B" if character != b"B" else b"C"
    return data[:position] + replacement + data[position + 1 :]


def tampered(publisher: Publisher) -> dict[str, tuple[bytes, bytes | None]]:
    payload = b'{"sequence":7,"entries":[]}'
    data = publisher.sign(payload)
    protected, body, signature = data.split(b".")
    detached_header = publisher.header(b64=False, crit=["b64"])
    detached = publisher.sign(payload, header=detached_header, detached=True)
    variants: dict[str, tuple[bytes, bytes | None]] = {
        "payload changed": (_flip(data, len(protected) + 3), None),
        "signature changed": (_flip(data, len(data) - 10), None),
        "signature of another payload": (protected + b"." + b64url(b"{}") + b"." + signature, None),
        "signature truncated": (data[:-4], None),
        "signature empty": (protected + b"." + body + b".", None),
        "signature too long": (data + b"AAAA", None),
        "two segments": (protected + b"." + body, None),
        "four segments": (data + b"." + signature, None),
        "payload with a character outside base64url": (protected + b"." + body[:-1] + b"!." + signature, None),
        "payload in base64, not base64url": (protected + b"." + body[:-1] + b"+." + signature, None),
        "header not JSON": (b64url(b"not json") + b"." + body + b"." + signature, None),
        "header not an object": (b64url(b"[1]") + b"." + body + b"." + signature, None),
        "detached payload changed": (detached, b'{"sequence":8,"entries":[]}'),
        "detached JWS without its payload": (detached, None),
        "detached payload for an attached JWS": (data, payload),
    }
    for name, header in {
        "alg none": publisher.header(alg="none"),
        "alg HS256": publisher.header(alg="HS256"),
        "alg ES384": publisher.header(alg="ES384"),
        "alg missing": publisher.header(alg=None),
        "crit names an unknown parameter": publisher.header(crit=["exp"], exp=1),
        "crit names an absent parameter": publisher.header(crit=["b64"]),
        "crit empty": publisher.header(crit=[]),
        "crit not a list": publisher.header(crit="b64"),
        "b64 false without crit": publisher.header(b64=False),
    }.items():
        variants[name] = (publisher.sign(payload, header=header), None)
    uncritical = publisher.header(b64=False)
    variants["detached, b64 false without crit"] = (publisher.sign(payload, header=uncritical, detached=True), payload)
    with_segment = publisher.sign(payload, header=detached_header, detached=True).split(b".")
    variants["detached with a payload segment"] = (
        with_segment[0] + b"." + b64url(payload) + b"." + with_segment[2],
        payload,
    )
    # The last character's unused bits set: decodes to the same bytes, but is another spelling.
    odd = payload + b"!"  # 28 bytes: the base64url ends with a partial group
    signing_input = protected + b"." + b64url(odd)
    spelled = protected + b"." + b64url(odd)[:-1] + _other_spelling(b64url(odd)[-1:])
    variants["payload in a non-canonical spelling"] = (
        spelled + b"." + b64url(publisher.raw_signature(signing_input)),
        None,
    )
    return variants


def _other_spelling(last: bytes) -> bytes:
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return alphabet[alphabet.index(last) + 1 : alphabet.index(last) + 2]


TAMPERED = sorted(tampered(Publisher()))  # the names, for the test ids


@pytest.mark.parametrize("name", TAMPERED)
def test_a_tampered_jws_is_refused_as_pyjwt_refuses_it(publisher, name):
    data, detached = tampered(publisher)[name]
    assert isinstance(pyjwt(publisher, data, detached), str), "the reference accepts it: not a tampered input"
    assert isinstance(ours(publisher, data, detached), str)


def test_the_reasons_name_what_is_wrong(publisher):
    variants = tampered(publisher)
    assert ours(publisher, *variants["signature changed"]) == PublicationReason.BAD_SIGNATURE
    assert ours(publisher, *variants["signature of another payload"]) == PublicationReason.BAD_SIGNATURE
    assert ours(publisher, *variants["alg none"]) == PublicationReason.ALGORITHM
    assert ours(publisher, *variants["two segments"]) == PublicationReason.MALFORMED_JWS
    assert ours(publisher, *variants["payload in base64, not base64url"]) == PublicationReason.MALFORMED_JWS
    assert ours(publisher, *variants["crit names an unknown parameter"]) == PublicationReason.MALFORMED_JWS


def test_padding_is_refused_where_pyjwt_tolerates_it(publisher):
    # RFC 7515 §2: base64url without padding. PyJWT accepts '=' (some issuers add it); the
    # publication never writes it, and one JWS has one spelling here.
    payload = b"xy"  # 'eHk': a partial group, which a padding '=' completes
    protected = b64url(json.dumps(publisher.header(), sort_keys=True, separators=(",", ":")).encode())
    signing_input = protected + b"." + b64url(payload) + b"="
    data = signing_input + b"." + b64url(publisher.raw_signature(signing_input))
    assert pyjwt(publisher, data) == (publisher.header(), payload)
    assert ours(publisher, data) == PublicationReason.MALFORMED_JWS


def test_a_key_that_is_not_p256_is_refused():
    other = Publisher(ec.SECP384R1())
    data = other.sign(b"{}")
    assert ours(other, data) == PublicationReason.MALFORMED_JWS
    assert isinstance(pyjwt(other, data), str)


def test_the_trust_checks_still_come_first(publisher):
    stranger = Publisher()
    data = stranger.sign(b"{}")
    assert ours(publisher, data) == PublicationReason.UNTRUSTED_SIGNER
    wrong_kid = publisher.sign(b"{}", header=publisher.header(kid="00" * 32))
    assert ours(publisher, wrong_kid) == PublicationReason.KID_MISMATCH
    later = NOW + dt.timedelta(days=400)
    with pytest.raises(VerificationError) as caught:
        verify_jws(publisher.sign(b"{}"), publisher.anchors, later)
    assert caught.value.reason == PublicationReason.SIGNER_EXPIRED
