"""Semantic versions (semver.org 2.0.0), as business rules number their versions: the gateway
refuses a version that is not above the last one stored, and a verifier takes the highest valid
one. A version that is not semver raises ValueError."""

from __future__ import annotations

import re

_SEMVER = re.compile(
    r"(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)

Key = tuple[int, int, int, tuple[tuple[int, int | str], ...]]


def semver_key(text: str) -> Key:
    """A sort key: precedence as semver §11 orders it (build metadata ignored; a pre-release sorts
    before its release; pre-release fields compare numerically or lexically, numbers first)."""
    match = _SEMVER.fullmatch(text)
    if match is None:
        raise ValueError(f"{text[:40]!r} is not a semantic version")
    major, minor, patch, pre = match.groups()
    if pre is None:
        # A release outranks every pre-release of it: an empty tuple must sort last, so mark it.
        return int(major), int(minor), int(patch), ((2, 0),)
    fields = tuple((0, int(part)) if part.isdigit() else (1, part) for part in pre.split("."))
    return int(major), int(minor), int(patch), fields
