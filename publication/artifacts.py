"""Payloads and signed encodings of the published artifacts (docs/publication-format.md).

The index and the full lists are JWS. Deltas and spans are plain JSON with compact entries: the
signed index binds the head of each chain by SHA-256 and length, and each file the one before it,
so a signature of their own would add nothing a verifier checks, and its base64url would make
every device's download at every change a third larger.

Small artifacts (deltas, spans, the index) are built in memory. The full lists are streamed: their
JSON is written entry by entry into the JWS writer (``gateway.signing.jws.write``), into the file
and its gzip twin. Nothing holds the whole payload, its base64url form and the compact JWS at once.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path
from typing import Any

from gateway.signing import jws
from gateway.signing.backend import Signer
from publication import files
from publication.snapshot import Changes, State, revoked_json, trusted_json
from verifier.artifacts import is_plain
from verifier.descriptors import chain_path, named_path
from verifier.encoding import canonical_json, format_time
from verifier.entries import compact_body

FORMAT_VERSION = 1  # trust list, revocation list
# 2: a delta names the delta before it (previousDelta): a hash chain; 3: plain JSON, compact entries
FORMAT_VERSION_DELTA = 3
FORMAT_VERSION_SPAN = 2  # 2: plain JSON, compact entries
# 2: full lists may be of an earlier sequence; 3: the chain head only; 4: kid-only header;
# 5: deltas and spans in plain JSON
INDEX_VERSION = 5
FORMAT_VERSION_NAMED = 1  # a named artifact (publication.providers.NamedContent)
ORDER = attrgetter("country", "type", "thumbprint")


@dataclass(frozen=True)
class Written:
    """A file in the publish folder, by hash and length (its bytes are not kept)."""

    path: str  # relative to the publish folder
    sha256: str
    length: int

    def descriptor(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "length": self.length}


@dataclass(frozen=True)
class Artifact:
    """A small artifact held in memory."""

    path: str  # relative to the publish folder
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def descriptor(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "length": len(self.data)}


@dataclass(frozen=True)
class FullLists:
    """The full trust and revocation lists of one sequence, as an index names them."""

    sequence: int
    trust_list: Written
    trusted: int
    revocation_list: Written
    revoked: int


def sequence_dir(sequence: int) -> str:
    return f"sequences/{sequence}"


def chain_file(sequence: int, kind: str, *, plain: bool) -> str:
    """The path of a sequence's delta or span (``kind``): plain JSON, or a JWS when it was
    published before index version 5."""
    if plain:
        return chain_path(sequence, kind)  # where verifiers look for it (a link gives no path)
    return f"{sequence_dir(sequence)}/{kind}.jws"


# --- full lists -------------------------------------------------------------------------------------


def _entries(records: Iterable[Any], to_json: Any) -> Iterator[bytes]:
    """The JSON array's members, comma-separated, in blocks of 1,000 entries."""
    ordered = sorted(records, key=ORDER)
    for start in range(0, len(ordered), 1000):
        text = ",".join([to_json(record) for record in ordered[start : start + 1000]])
        yield (b"," if start else b"") + text.encode("utf-8")


def _list_pieces(
    kind: str, records: Iterable[Any], to_json: Any, sequence: int, issued_at: dt.datetime
) -> Iterator[bytes]:
    # Canonical JSON: "entries" sorts before "issuedAt", "sequence", "type" and "version".
    yield b'{"entries":['
    yield from _entries(records, to_json)
    tail = {"issuedAt": format_time(issued_at), "sequence": sequence, "type": kind, "version": FORMAT_VERSION}
    yield b"]," + canonical_json(tail)[1:]


def write_full_lists(root: Path, signer: Signer, state: State, *, sequence: int, issued_at: dt.datetime) -> FullLists:
    """Stream the trust list and the revocation list of ``sequence`` (with their .gz twins)."""
    written = []
    for kind, name, records, to_json in (
        ("trust-list", "trustlist.jws", state.trusted.values(), trusted_json),
        ("revocation-list", "revocations.jws", state.revoked.values(), revoked_json),
    ):
        path = f"{sequence_dir(sequence)}/{name}"
        with files.streamed(root, path, with_gzip=True) as stream:
            jws.write(stream, signer, kind, _list_pieces(kind, records, to_json, sequence, issued_at))
        written.append(Written(path, stream.sha256, stream.length))
    return FullLists(sequence, written[0], len(state.trusted), written[1], len(state.revoked))


# --- delta and index ----------------------------------------------------------------------------------


def delta(
    changes: Changes,
    *,
    sequence: int,
    previous: int | None,
    previous_delta: dict[str, Any] | None,
    issued_at: dt.datetime,
    named: dict[str, dict[str, Any]] | None = None,
) -> Artifact:
    """What changed since ``previous``: the state at ``sequence`` of every certificate touched since,
    its entries compact (``verifier.entries``).

    ``previous_delta`` links to the delta of ``previous`` (its SHA-256 and length, and its path if
    it is a JWS of before index version 5), or is None when ``previous`` has none (a reset). The deltas thus form
    a hash chain whose head the signed index names: a verifier checks each one it walks through
    against its successor, so the index need not list them, nor they be signed
    (docs/publication-format.md).

    ``named``: the descriptors of the named artifacts this sequence wrote a new version of, so that
    the chain records every version; absent when there are none."""
    payload = {
        "type": "delta",
        "version": FORMAT_VERSION_DELTA,
        "sequence": sequence,
        "previous": previous,
        "previousDelta": previous_delta,
        "issuedAt": format_time(issued_at),
        **_body(changes),
    }
    if named:
        payload["artifacts"] = named
    return Artifact(chain_file(sequence, "delta", plain=True), canonical_json(payload))


def named_artifact(signer: Signer, name: str, value: Any, *, sequence: int, issued_at: dt.datetime) -> Artifact:
    """A version of named content (``publication.providers``): a JWS whose payload's ``type`` is
    its name, of the sequence that wrote it, carrying the value as ``content``."""
    payload = {
        "type": name,
        "version": FORMAT_VERSION_NAMED,
        "sequence": sequence,
        "issuedAt": format_time(issued_at),
        "content": value,
    }
    return Artifact(named_path(sequence, name), jws.compact(signer, name, canonical_json(payload), chain=False))


def span(
    changes: Changes,
    *,
    sequence: int,
    previous: int,
    previous_span: dict[str, Any] | None,
    issued_at: dt.datetime,
    digest: dict[str, Any],
) -> Artifact:
    """What changed from the full-list sequence ``previous`` to the full-list sequence ``sequence``:
    a delta's body over many sequences, for verifiers beyond the chain of deltas. Spans form a hash
    chain of their own (``previousSpan``: the span that ends at ``previous``, or None where the
    chain starts); the index names its head. Plain JSON, like a delta. ``digest`` describes the
    state at ``sequence`` (``snapshot.digest``): a verifier that catches up by spans checks that
    it holds exactly that, having no link to its own history to check."""
    payload = {
        "type": "span",
        "version": FORMAT_VERSION_SPAN,
        "sequence": sequence,
        "previous": previous,
        "previousSpan": previous_span,
        "issuedAt": format_time(issued_at),
        "state": digest,
        **_body(changes),
    }
    return Artifact(chain_file(sequence, "span", plain=True), canonical_json(payload))


def _body(changes: Changes) -> dict[str, Any]:
    return compact_body(changes.upsert, changes.remove, changes.revoked)


def index(
    signer: Signer,
    *,
    sequence: int,
    issued_at: dt.datetime,
    expires_at: dt.datetime,
    full: FullLists,
    head: dict[str, Any] | None,
    chain_start: int,
    span: dict[str, Any] | None,
    span_start: int | None,
    publisher_keys: Iterable[dict[str, str]],
    checkpoint: dict[str, Any] | None,
    named: dict[str, dict[str, Any]] | None = None,
) -> Artifact:
    """``head``: the descriptor of this sequence's delta (None for a reset); ``chain_start``: the
    oldest sequence a verifier can walk the chain back to (the window's start, at most F);
    ``span``: the descriptor of the newest span (it ends at a sequence the chain reaches) and
    ``span_start`` the oldest sequence the chain of spans leads from, or both None.

    The header names the signer by ``kid`` only: its certificate is in ``publisherKeys``, which a
    verifier needs anyway, so an ``x5c`` would send it twice to every verifier at every change.
    ``checkpoint`` is the audit log's tree head without its own JWS: this signature covers it.
    ``named``: the descriptor of the current version of each named artifact, by name (the member
    is absent when no content room registers any, so the index is what it was before them)."""
    payload = {
        "type": "index",
        "version": INDEX_VERSION,
        "sequence": sequence,
        "issuedAt": format_time(issued_at),
        "expiresAt": format_time(expires_at),
        "trustList": {**full.trust_list.descriptor(), "sequence": full.sequence, "entries": full.trusted},
        "revocationList": {**full.revocation_list.descriptor(), "sequence": full.sequence, "entries": full.revoked},
        "head": head,
        "chainStart": chain_start,
        "span": span,
        "spanStart": span_start,
        "publisherKeys": list(publisher_keys),
        "checkpoint": checkpoint,
    }
    if named:
        payload["artifacts"] = named
    return Artifact("index.jws", jws.compact(signer, "index", canonical_json(payload), chain=False))


def payload_of(data: bytes) -> dict[str, Any]:
    """The payload of a file we wrote ourselves: a plain-JSON delta or span, or a JWS (no
    verification: for rolling our own state forward)."""
    if is_plain(data):
        return json.loads(data)
    part = data.split(b".")[1]
    return json.loads(base64.urlsafe_b64decode(part + b"=" * (-len(part) % 4)))
