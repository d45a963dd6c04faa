"""The DID document (WHO GDHCN / TNG trust list, gateway-api.md §6.3): ``did.json``.

Built from the same state as the full lists, by the background rebuild only: it is for TNG/WHO
consumers, not for the verifiers that follow the signed index, so it is not on the path from a
change to its publication. Written after the index that names the full lists of the same state.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from collections.abc import Iterator
from json.encoder import encode_basestring  # type: ignore[attr-defined]
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pycountry

from gateway.signing.backend import Signer
from gateway.signing.jws import header, signature
from publication import files
from publication.artifacts import ORDER, Written
from publication.snapshot import State
from verifier.encoding import canonical_json, format_time

PATH = "did.json"
CONTEXT = ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"]
_BASE64_KID = re.compile(r"[A-Za-z0-9+/=]*")
_KID_ESCAPES = str.maketrans({"+": "%2B", "/": "%2F", "=": "%3D"})
_EC_MEMBERS = {"kty", "crv", "x", "y"}
_RSA_MEMBERS = {"kty", "n", "e"}


def alpha3(code: str, virtual: dict[str, str]) -> str:
    if code in virtual:
        return virtual[code]
    country = pycountry.countries.get(alpha_2=code)
    return country.alpha_3 if country else f"X{code}"


def _fragment(kid: str) -> str:
    """``quote(kid, safe="")``; a DCC kid is base64, whose only escapes are +, / and =."""
    return kid.translate(_KID_ESCAPES) if _BASE64_KID.fullmatch(kid) else quote(kid, safe="")


def _jwk_json(jwk: dict[str, Any], kid: str, x5c: str) -> str:
    """Canonical JSON of the JWK with ``kid`` and ``x5c`` (already JSON) added; the usual EC and
    RSA shapes by template (100,000 of them per document), anything else member by member."""
    quote = encode_basestring
    names = jwk.keys()
    if names == _EC_MEMBERS and jwk["kty"] == "EC":
        return (
            f'{{"crv":{quote(jwk["crv"])},"kid":{quote(kid)},"kty":"EC","x":{quote(jwk["x"])},'
            f'"x5c":{x5c},"y":{quote(jwk["y"])}}}'
        )
    if names == _RSA_MEMBERS and jwk["kty"] == "RSA":
        return f'{{"e":{quote(jwk["e"])},"kid":{quote(kid)},"kty":"RSA","n":{quote(jwk["n"])},"x5c":{x5c}}}'
    fields: dict[str, str] = {}
    for name, value in jwk.items():
        if name not in ("kid", "x5c"):
            fields[name] = encode_basestring(value) if isinstance(value, str) else canonical_json(value).decode()
    fields["kid"] = encode_basestring(kid)
    fields["x5c"] = x5c
    return "{" + ",".join(f"{encode_basestring(name)}:{fields[name]}" for name in sorted(fields)) + "}"


def methods(state: State, *, did: str, virtual: dict[str, str]) -> list[str]:
    """One JsonWebKey2020 verification method per trusted DSC, canonical JSON, in list order."""

    @functools.cache
    def participant(country: str) -> str:
        return f"{did}:{alpha3(country, virtual).lower()}"

    @functools.cache
    def issuer_certificate(thumbprint: str) -> str:
        issuer = state.trusted.get(thumbprint)
        return "," + encode_basestring(issuer.certificate) if issuer is not None else ""

    result = []
    for record in sorted(state.trusted.values(), key=ORDER):
        if record.type != "DSC" or not record.jwk:
            continue
        jwk = json.loads(record.jwk)
        if not isinstance(jwk, dict) or "kty" not in jwk:
            continue
        controller = participant(record.country)
        x5c = f"[{encode_basestring(record.certificate)}{issuer_certificate(record.issuer)}]"
        method_id = encode_basestring(f"{controller}#{_fragment(record.kid)}")
        result.append(
            f'{{"controller":{encode_basestring(controller)},"id":{method_id},'
            f'"publicKeyJwk":{_jwk_json(jwk, record.kid, x5c)},"type":"JsonWebKey2020"}}'
        )
    return result


def _blocks(members: list[str]) -> Iterator[bytes]:
    for start in range(0, len(members), 1000):
        yield (b"," if start else b"") + ",".join(members[start : start + 1000]).encode("utf-8")


def write_did_document(
    root: Path, signer: Signer, state: State, *, did: str, issued_at: dt.datetime, virtual: dict[str, str]
) -> Written:
    """JsonWebKey2020 entries with x5c [DSC, issuing CSCA], signed with a JsonWebSignature2020
    proof: a detached JWS (RFC 7797, b64=false) over the canonical JSON of the document without
    its proof. (TNG's ld-signatures use RDF canonicalisation; we sign JCS-style canonical JSON
    instead and say so in the format document.)

    One pass: each block of verification methods is encoded once, then written and hashed into
    the signing input; the proof, signed at the end, is the document's last member. Its place
    does not matter to a verifier, who removes it and re-serialises the rest canonically."""
    members = methods(state, did=did, virtual=virtual)
    head = canonical_json({"@context": CONTEXT, "controller": did, "id": did})[:-1]
    protected = header(signer, None, extra={"b64": False, "crit": ["b64"]})
    digest = hashlib.sha256(protected + b".")
    with files.streamed(root, PATH, with_gzip=True) as stream:
        opening = head + b',"verificationMethod":['
        digest.update(opening)
        stream.write(opening)
        for block in _blocks(members):
            digest.update(block)
            stream.write(block)
        digest.update(b"]}")
        proof = {
            "type": "JsonWebSignature2020",
            "created": format_time(issued_at),
            "proofPurpose": "assertionMethod",
            "verificationMethod": f"{did}#publisher",
            "jws": (protected + b".." + signature(signer, digest.digest())).decode("ascii"),
        }
        stream.write(b'],"proof":' + canonical_json(proof) + b"}")
    return Written(PATH, stream.sha256, stream.length)
