"""Payloads and signed encodings of the published artifacts (docs/publication-format.md)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pycountry

from gateway.pki.signer import Signer
from trustlist.publication.snapshot import Entry, Snapshot, iso

FORMAT_VERSION = 1
MEDIA_TYPE = "application/jose"


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no insignificant whitespace, UTF-8: the bytes we sign and hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Artifact:
    path: str  # relative to the publish folder
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "length": len(self.data)}


def _jws(signer: Signer, kind: str, payload: dict[str, Any]) -> bytes:
    headers = {"typ": f"{kind}+jws", "cty": "application/json"}
    return signer.sign_jws(canonical_json(payload), headers).encode("ascii")


def sequence_dir(sequence: int) -> str:
    return f"sequences/{sequence}"


def trust_list(signer: Signer, snapshot: Snapshot, *, sequence: int, issued_at: dt.datetime) -> Artifact:
    entries = sorted(snapshot.trusted.values(), key=_order)
    payload = {
        "type": "trust-list",
        "version": FORMAT_VERSION,
        "sequence": sequence,
        "issuedAt": iso(issued_at),
        "entries": entries,
    }
    return Artifact(f"{sequence_dir(sequence)}/trustlist.jws", _jws(signer, "trust-list", payload))


def revocation_list(signer: Signer, snapshot: Snapshot, *, sequence: int, issued_at: dt.datetime) -> Artifact:
    entries = sorted(snapshot.revoked.values(), key=_order)
    payload = {
        "type": "revocation-list",
        "version": FORMAT_VERSION,
        "sequence": sequence,
        "issuedAt": iso(issued_at),
        "entries": entries,
    }
    return Artifact(f"{sequence_dir(sequence)}/revocations.jws", _jws(signer, "revocation-list", payload))


def delta(
    signer: Signer, snapshot: Snapshot, *, sequence: int, previous: int | None, issued_at: dt.datetime
) -> Artifact:
    """What changed since ``previous``: the current state of every certificate touched since then."""
    upsert = [snapshot.trusted[t] for t in sorted(snapshot.touched) if t in snapshot.trusted]
    remove = sorted(t for t in snapshot.touched if t not in snapshot.trusted)
    revoked = [snapshot.revoked[t] for t in sorted(snapshot.touched) if t in snapshot.revoked]
    payload = {
        "type": "delta",
        "version": FORMAT_VERSION,
        "sequence": sequence,
        "previous": previous,
        "issuedAt": iso(issued_at),
        "upsert": upsert,
        "remove": remove,
        "revoked": revoked,
    }
    return Artifact(f"{sequence_dir(sequence)}/delta.jws", _jws(signer, "delta", payload))


def index(
    signer: Signer,
    *,
    sequence: int,
    issued_at: dt.datetime,
    expires_at: dt.datetime,
    trust: Artifact,
    revocations: Artifact,
    trusted_count: int,
    revoked_count: int,
    deltas: Iterable[dict[str, Any]],
    publisher_keys: Iterable[dict[str, str]],
    checkpoint: dict[str, Any] | None,
) -> Artifact:
    payload = {
        "type": "index",
        "version": FORMAT_VERSION,
        "sequence": sequence,
        "issuedAt": iso(issued_at),
        "expiresAt": iso(expires_at),
        "trustList": {**trust.descriptor(), "entries": trusted_count},
        "revocationList": {**revocations.descriptor(), "entries": revoked_count},
        "deltas": list(deltas),
        "publisherKeys": list(publisher_keys),
        "checkpoint": checkpoint,
    }
    return Artifact("index.jws", _jws(signer, "index", payload))


def _order(entry: Entry) -> tuple[str, str, str]:
    return entry["country"], entry["type"], entry["thumbprint"]


# --- DID document (WHO GDHCN / TNG trust list, gateway-api.md §6.3) ------------------------------


def alpha3(code: str, virtual: dict[str, str]) -> str:
    if code in virtual:
        return virtual[code]
    country = pycountry.countries.get(alpha_2=code)
    return country.alpha_3 if country else f"X{code}"


def did_document(
    signer: Signer, snapshot: Snapshot, *, did: str, issued_at: dt.datetime, virtual: dict[str, str]
) -> Artifact:
    """JsonWebKey2020 entries with x5c [DSC, issuing CSCA], signed with a JsonWebSignature2020
    proof: a detached JWS (RFC 7797, b64=false) over the canonical JSON of the document
    without its proof. (TNG's ld-signatures use RDF canonicalisation; we sign JCS-style
    canonical JSON instead and say so in the format document.)"""
    methods = []
    for entry in sorted(snapshot.trusted.values(), key=_order):
        jwk = snapshot.jwks.get(entry["thumbprint"], {})
        if entry["type"] != "DSC" or "kty" not in jwk:
            continue
        participant = f"{did}:{alpha3(entry['country'], virtual).lower()}"
        chain = [entry["certificate"]]
        issuer = snapshot.trusted.get(entry["issuer"])
        if issuer is not None:
            chain.append(issuer["certificate"])
        methods.append(
            {
                "id": f"{participant}#{quote(entry['kid'], safe='')}",
                "type": "JsonWebKey2020",
                "controller": participant,
                "publicKeyJwk": {**jwk, "kid": entry["kid"], "x5c": chain},
            }
        )
    document: dict[str, Any] = {
        "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/suites/jws-2020/v1"],
        "id": did,
        "controller": did,
        "verificationMethod": methods,
    }
    unsigned = canonical_json(document)
    jws = signer.sign_jws(unsigned, {"b64": False, "crit": ["b64"]}, detached=True)
    proof = {
        "type": "JsonWebSignature2020",
        "created": iso(issued_at),
        "proofPurpose": "assertionMethod",
        "verificationMethod": f"{did}#publisher",
        "jws": jws,
    }
    # Canonical JSON sorts "proof" just before "verificationMethod": splice it in rather than
    # serialising the whole (large) document a second time. The result is byte-identical.
    marker = b',"verificationMethod":'
    cut = unsigned.index(marker)
    signed = unsigned[:cut] + b',"proof":' + canonical_json(proof) + unsigned[cut:]
    return Artifact("did.json", signed)
