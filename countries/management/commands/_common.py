"""Helpers shared by the operator commands."""

from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import CommandError

from countries.models import TrustedParty


def read_bytes(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc}") from exc


def write_private(path: Path, data: bytes, *, replace: bool = False) -> None:
    """Write a private key readable by its owner only (0600), refusing to overwrite unless told to
    replace it (a new file, never an old one's mode and owner)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if replace:
        path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def party_by_thumbprint(prefix: str) -> TrustedParty:
    matches = list(TrustedParty.objects.filter(thumbprint__startswith=prefix.lower())[:2])
    if len(matches) != 1:
        raise CommandError(f"{'no' if not matches else 'more than one'} onboarded certificate matches {prefix!r}")
    return matches[0]
