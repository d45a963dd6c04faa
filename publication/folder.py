"""The publish folder: where it is, and what is published in it, read back without verification
(the publisher wrote it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from publication import artifacts


class PublicationRefused(Exception):
    """Publishing would not move the published sequence forward, or would build on a file that
    is not the one published."""


def publish_dir() -> Path:
    return Path(settings.GATEWAY_PUBLISH_DIR)


def published_sequence(root: Path) -> int | None:
    """The sequence in the index on disk."""
    try:
        compact = (root / "index.jws").read_bytes()
    except FileNotFoundError:
        return None
    return int(artifacts.payload_of(compact)["sequence"])


def refuse_if_not_forward(sequence: int) -> None:
    """Never overwrite the published index with a sequence at or below its own."""
    current = published_sequence(publish_dir())
    if current is not None and sequence <= current:
        raise PublicationRefused(f"sequence {sequence} is not above the published {current}")


def published_delta(sequence: int, sha256: str, *, plain: bool) -> dict[str, Any]:
    """The payload of a published delta (its hash must still be the one recorded), as written:
    compact entries, empty lists left out."""
    data = (publish_dir() / artifacts.chain_file(sequence, "delta", plain=plain)).read_bytes()
    if artifacts.Artifact("", data).sha256 != sha256:
        raise PublicationRefused(f"the delta of sequence {sequence} on disk is not the one published")
    return artifacts.payload_of(data)
