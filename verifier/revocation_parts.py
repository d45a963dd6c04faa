"""The published revoked DCC hashes on a verifier's side: the manifest the signed index binds, the
part files it names, fetched when not held, and the store loaded from them
(docs/revocation-distribution.md, docs/publication-format.md "Partitioned content").

The index binds the manifest (a named artifact, ``dcc-revocations``) by hash and signature; the
manifest binds each part by SHA-256 and length. A sync downloads only the parts whose hashes it
does not hold, so a change costs the parts it rewrote plus the manifest. Parts are kept in the
state folder under their hash; loading checks every byte against the manifest again (the folder
is not trusted more than the network).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from verifier.descriptors import PARTS_MANIFEST_VERSION, part_path
from verifier.fetch import Fetch
from verifier.reasons import PartitionError, PublicationReason, VerificationError
from verifier.revocation_partition import MAGIC, UNKNOWN_KID, Kid, Partition, check_group, parse_partition
from verifier.revoked_hashes import EMPTY, RevokedHashes

REVOCATION_ARTIFACT = "dcc-revocations"  # the named artifact of the manifest
PARTS_FOLDER = "parts"
MAX_GROUPS = 1_000_000
MAX_PART_BYTES = 64 * 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")
_COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class PartRef:
    sha256: str
    length: int


@dataclass(frozen=True)
class GroupRef:
    """One country's hashes under one kid, as the manifest lists them."""

    country: str
    kid: Kid
    hashes: int
    parts: tuple[PartRef, ...]


def parse_manifest(content: Any) -> list[GroupRef]:
    """The groups of a manifest, every member checked (MALFORMED_PAYLOAD otherwise)."""
    try:
        if content.get("version") != PARTS_MANIFEST_VERSION or content.get("format") != MAGIC.decode("ascii"):
            raise ValueError(f"version {content.get('version')!r} of format {content.get('format')!r}")
        groups = content["groups"]
        if not isinstance(groups, list) or len(groups) > MAX_GROUPS:
            raise ValueError("groups: not a list, or too long")
        parsed = [_group(group) for group in groups]
    except (AttributeError, KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise VerificationError(
            PublicationReason.MALFORMED_PAYLOAD, f"{REVOCATION_ARTIFACT}: {type(exc).__name__} {exc}"
        ) from None
    keys = [(group.country, group.kid) for group in parsed]
    if len(set(keys)) != len(keys):
        raise VerificationError(PublicationReason.MALFORMED_PAYLOAD, f"{REVOCATION_ARTIFACT}: a group listed twice")
    return parsed


def _group(group: dict[str, Any]) -> GroupRef:
    country, kid_text, hashes, parts = group["country"], group["kid"], group["hashes"], group["parts"]
    if not (isinstance(country, str) and _COUNTRY.fullmatch(country)):
        raise ValueError(f"country {country!r}")
    if not isinstance(kid_text, str):
        raise TypeError("kid")
    kid: Kid = UNKNOWN_KID if kid_text == UNKNOWN_KID else base64.b64decode(kid_text, validate=True)
    if not (isinstance(hashes, int) and hashes >= 0) or not (isinstance(parts, list) and 0 < len(parts) <= 256):
        raise ValueError(f"group {country} {kid_text}: hashes or parts")
    refs = []
    for part in parts:
        sha256, length = part["sha256"], part["length"]
        if not (isinstance(sha256, str) and _SHA256.fullmatch(sha256)):
            raise ValueError(f"sha256 {sha256!r}")
        if not (isinstance(length, int) and 0 < length <= MAX_PART_BYTES):
            raise ValueError(f"length {length!r}")
        refs.append(PartRef(sha256, length))
    return GroupRef(country, kid, hashes, tuple(refs))


def missing_parts(groups: list[GroupRef], folder: Path) -> list[tuple[GroupRef, PartRef]]:
    """The parts the folder does not hold (by name and size; their bytes are checked on load)."""
    wanted = []
    for group in groups:
        for part in group.parts:
            path = folder / PARTS_FOLDER / part.sha256
            if not (path.is_file() and path.stat().st_size == part.length):
                wanted.append((group, part))
    return wanted


def fetch_parts(
    fetch: Fetch,
    base: str,
    groups: list[GroupRef],
    folder: Path,
    progress: Callable[[int, int | None], None] | None = None,
) -> int:
    """Download every part the folder lacks, check it (hash, length, format, group) and keep it
    under its hash; then check every group with a new part tiles the bytes. Returns the bytes
    downloaded. A part is written only once it verified; nothing names it until the state is saved."""
    downloaded = 0
    touched: dict[tuple[str, Kid], GroupRef] = {}
    target = folder / PARTS_FOLDER
    for group, part in missing_parts(groups, folder):
        path = part_path(REVOCATION_ARTIFACT, part.sha256)
        response = fetch(base + path, {}, part.length, progress)
        if response.status != 200:
            raise VerificationError(PublicationReason.HTTP_ERROR, f"{path}: HTTP {response.status}")
        data = response.body
        downloaded += len(data)
        partition = _checked(data, group, part, path)
        target.mkdir(parents=True, exist_ok=True)
        _write(target / part.sha256, data)
        touched[(partition.country, partition.kid)] = group
    for group in touched.values():
        _check_group(group, folder)
    return downloaded


def load_revoked_hashes(folder: Path, content: Any) -> RevokedHashes:
    """The store of the parts a manifest names, each read from ``folder`` and checked again;
    one group's files are held at a time."""
    groups = parse_manifest(content)
    if not groups:
        return EMPTY
    return RevokedHashes.from_groups(_read_groups(groups, folder))


def drop_unlisted_parts(folder: Path, content: Any | None) -> None:
    """Remove the held parts the manifest no longer names (after the state naming it was saved)."""
    target = folder / PARTS_FOLDER
    if not target.is_dir():
        return
    listed = set() if content is None else {p.sha256 for g in parse_manifest(content) for p in g.parts}
    for path in target.iterdir():
        if path.name not in listed:
            path.unlink(missing_ok=True)


def _read_groups(groups: list[GroupRef], folder: Path) -> Iterator[list[Partition]]:
    for group in groups:
        yield [_read_part(group, part, folder) for part in group.parts]


def _read_part(group: GroupRef, part: PartRef, folder: Path) -> Partition:
    path = folder / PARTS_FOLDER / part.sha256
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise VerificationError(
            PublicationReason.HASH_MISMATCH, f"{path} cannot be read ({type(exc).__name__}): sync again"
        ) from None
    return _checked(data, group, part, str(path))


def _checked(data: bytes, group: GroupRef, part: PartRef, where: str) -> Partition:
    if len(data) != part.length:
        raise VerificationError(
            PublicationReason.LENGTH_MISMATCH, f"{where}: {len(data)} bytes, the manifest says {part.length}"
        )
    if hashlib.sha256(data).hexdigest() != part.sha256:
        raise VerificationError(PublicationReason.HASH_MISMATCH, f"{where}: not the part the manifest names")
    try:
        partition = parse_partition(data)
    except PartitionError as exc:
        raise VerificationError(PublicationReason.MALFORMED_PAYLOAD, f"{where}: {exc}") from None
    if (partition.country, partition.kid) != (group.country, group.kid):
        raise VerificationError(
            PublicationReason.MALFORMED_PAYLOAD, f"{where}: a part of another group than the manifest's"
        )
    return partition


def _check_group(group: GroupRef, folder: Path) -> None:
    partitions = [_read_part(group, part, folder) for part in group.parts]
    try:
        check_group(partitions)
    except PartitionError as exc:
        raise VerificationError(PublicationReason.MALFORMED_PAYLOAD, f"group {group.country}: {exc}") from None


def _write(target: Path, data: bytes) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)
