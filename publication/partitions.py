"""Partitioned content (``publication.providers.PartitionedContent``) as the publisher reads it:
the manifest of every group and its parts, built from the manifest the index names and the groups
the outbox changed since, with every part file it names written first (docs/publication-format.md,
"Partitioned content").

A manifest is the ``content`` of a named artifact version, so the signed index binds it by hash
and it binds each part by hash and length: a verifier checks every byte it downloads, and fetches
only the parts whose hashes it does not hold.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection
from pathlib import Path
from typing import Any

from publication import files
from publication.artifacts import payload_of
from publication.providers import PartitionedContent
from verifier.descriptors import PARTS_MANIFEST_VERSION, part_path


def manifest(
    provider: PartitionedContent, root: Path, previous: dict[str, Any] | None, scopes: Collection[str] | None
) -> dict[str, Any]:
    """The manifest now: ``previous`` with the groups of ``scopes`` read again (every group when
    ``previous`` or ``scopes`` is None). Writes the parts it names that the folder lacks."""
    current: dict[str, dict[str, Any]] = {}
    if previous is not None and scopes is not None:
        current = {group["group"]: group for group in previous["groups"]}
    # The parts are written on threads while the next groups are read; all are on disk when
    # the block ends, before the manifest that names them is.
    with files.many_files(root) as writer:
        for scope, members, parts in provider.groups(None if previous is None else scopes):
            if not parts:
                current.pop(scope, None)
                continue
            described = []
            for data in parts:
                digest = hashlib.sha256(data).hexdigest()
                path = part_path(provider.name, digest)
                if not (root / path).exists():  # content-addressed: the bytes there are these bytes
                    writer.write(path, data)
                described.append({"sha256": digest, "length": len(data)})
            current[scope] = {"group": scope, **members, "parts": described}
    return {
        "version": PARTS_MANIFEST_VERSION,
        "format": provider.format,
        "groups": [current[scope] for scope in sorted(current)],
    }


def held_manifest(root: Path, path: str) -> dict[str, Any] | None:
    """The manifest in the named artifact version at ``path``, or None if it is not there (a
    folder restored without it: the publisher then reads every group again)."""
    try:
        stat = (root / path).stat()
    except FileNotFoundError:
        return None
    return _read_manifest(root / path, stat.st_mtime_ns, stat.st_size)


def part_paths(root: Path, name: str, path: str) -> set[str]:
    """The part files the manifest at ``path`` names (for pruning); none if it is gone."""
    content = held_manifest(root, path)
    if content is None:
        return set()
    return {part_path(name, part["sha256"]) for group in content["groups"] for part in group["parts"]}


@functools.lru_cache(maxsize=8)
def _read_manifest(file: Path, mtime_ns: int, size: int) -> dict[str, Any]:
    # Pruning reads the same few manifests after every publication: parsed once per file as it
    # is (its time and size in the key), a file rewritten in place (a test's folder) is read anew.
    # Callers never change the value.
    return payload_of(file.read_bytes())["content"]
