"""The DCC revocation hashes of a code: what a country lists to revoke one DCC (not its DSC).

Each is SHA-256 truncated to 16 bytes (the EU gateway's ``RevocationBatchDto`` and the apps):

- UCI: the UTF-8 bytes of the entry's ``ci``, exactly as in the DCC (no prefix removed, no case
  changed: an issuer hashes what it issued);
- COUNTRYCODEUCI: the UTF-8 bytes of a country code followed by the ``ci``. Implementations
  disagree on which country code: CWA takes the CWT ``iss``, the DGCA Android app the entry's
  ``co``. A code whose ``iss`` and ``co`` differ gets both hashes, so a list made either way
  matches;
- SIGNATURE: of the raw COSE signature, for ES256 its first half (r), for PS256 all of it.

A DCC holds one v, t or r entry in practice; every entry with a text ``ci`` gets its hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from enum import IntEnum
from typing import Any, NamedTuple

from verifier.cose import ES256

HASH_SIZE = 16


class HashType(IntEnum):
    """The gateway's hash types; the value is the order the apps test them in (and the order of
    the runs in a partition, docs/revocation-distribution.md)."""

    UCI = 0
    COUNTRYCODEUCI = 1
    SIGNATURE = 2


class CodeHash(NamedTuple):
    hash_type: HashType
    digest: bytes  # HASH_SIZE bytes
    # What was hashed, described only when asked (on a match): building the text for every hash
    # of every code costs more than looking the hashes up.
    part: str = ""  # the entry's list (v, t or r); for SIGNATURE, what of the signature
    index: int = 0  # of the entry in its list
    country: str = ""  # COUNTRYCODEUCI: "iss XX" or "co XX"

    @property
    def source(self) -> str:
        """What was hashed, for a human: "v[0].ci", "iss AT + v[0].ci", "signature (r)"."""
        if self.hash_type is HashType.SIGNATURE:
            return self.part or "signature"
        name = f"{self.part}[{self.index}].ci"
        return f"{self.country} + {name}" if self.country else name


# Plain globals for the hot path: an enum member lookup costs ~0.15 µs on Python 3.11.
_UCI = HashType.UCI
_COUNTRYCODEUCI = HashType.COUNTRYCODEUCI
_SIGNATURE = HashType.SIGNATURE


def revocation_hash(data: bytes, _sha256: Any = hashlib.sha256) -> bytes:
    """SHA-256 of ``data``, its first 16 bytes: the one hash of every type."""
    return _sha256(data).digest()[:HASH_SIZE]


def signature_hash(alg: int | None, signature: bytes) -> CodeHash:
    """SIGNATURE: r of an ES256 signature (s can be negated into a second valid signature, r
    cannot, so r names the signing act), the whole of a PS256 one."""
    if alg == ES256:
        return CodeHash(_SIGNATURE, revocation_hash(signature[: len(signature) // 2]), "signature (r)")
    return CodeHash(_SIGNATURE, revocation_hash(signature))


def uci_hashes(issuer: str | None, dcc: Mapping[str, Any] | None, payload_type: str | None) -> list[CodeHash]:
    """UCI and COUNTRYCODEUCI of each entry of the DCC's ``payload_type`` list that carries a text
    ``ci`` (none of an unreadable DCC)."""
    if dcc is None or payload_type is None:
        return []
    entries = dcc.get(payload_type)
    if not isinstance(entries, list):
        return []
    hashes: list[CodeHash] = []
    for index, entry in enumerate(entries):
        ci = entry.get("ci") if isinstance(entry, Mapping) else None
        if not isinstance(ci, str):
            continue
        uci = ci.encode("utf-8", "surrogatepass")
        hashes.append(CodeHash(_UCI, revocation_hash(uci), payload_type, index))
        country = entry.get("co")
        if isinstance(issuer, str):
            digest = revocation_hash(issuer.encode("utf-8", "surrogatepass") + uci)
            hashes.append(CodeHash(_COUNTRYCODEUCI, digest, payload_type, index, "iss " + issuer))
        if isinstance(country, str) and country != issuer:
            digest = revocation_hash(country.encode("utf-8", "surrogatepass") + uci)
            hashes.append(CodeHash(_COUNTRYCODEUCI, digest, payload_type, index, "co " + country))
    return hashes


def code_hashes(
    alg: int | None, signature: bytes, issuer: str | None, dcc: Mapping[str, Any] | None, payload_type: str | None
) -> list[CodeHash]:
    """Every revocation hash of one code, UCI first, SIGNATURE last (the apps' order)."""
    return [*uci_hashes(issuer, dcc, payload_type), signature_hash(alg, signature)]
