"""How the index and the chains name a file: its path, SHA-256 and length, and for the full
lists and the files of the chains the sequences it is of (docs/publication-format.md, "Index",
"Delta", "Spans")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from verifier.reasons import PublicationReason, VerificationError


@dataclass(frozen=True)
class Descriptor:
    path: str
    sha256: str
    length: int

    @classmethod
    def of(cls, value: dict[str, Any]) -> Descriptor:
        try:
            return cls(str(value["path"]), str(value["sha256"]), int(value["length"]))
        except (KeyError, TypeError, ValueError, OverflowError) as exc:
            raise VerificationError(PublicationReason.MALFORMED_INDEX, f"bad artifact descriptor: {exc}") from exc


@dataclass(frozen=True)
class FullDescriptor(Descriptor):
    sequence: int = 0  # the sequence whose full list this is (F)
    entries: int | None = None


@dataclass(frozen=True)
class NamedDescriptor(Descriptor):
    sequence: int = 0  # the sequence that wrote this version


# A named artifact's name: an index member's key, a file name and a payload type (rules, value sets...).
ARTIFACT_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")


@dataclass(frozen=True)
class DeltaDescriptor(Descriptor):
    sequence: int = 0
    previous: int | None = None


def full_descriptor(value: dict[str, Any], index_sequence: int) -> FullDescriptor:
    """An index's ``trustList`` or ``revocationList``; one without a ``sequence`` is of the index's."""
    plain = Descriptor.of(value)
    entries = value.get("entries")
    return FullDescriptor(
        plain.path,
        plain.sha256,
        plain.length,
        int(value.get("sequence", index_sequence)),
        None if entries is None else int(entries),
    )


def delta_descriptor(value: Any) -> DeltaDescriptor:
    """An index's ``head`` or ``span``."""
    plain = Descriptor.of(value)
    try:
        previous = value.get("previous")
        return DeltaDescriptor(
            plain.path, plain.sha256, plain.length, int(value["sequence"]), None if previous is None else int(previous)
        )
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise VerificationError(PublicationReason.MALFORMED_INDEX, f"bad delta descriptor: {exc}") from exc


def named_descriptor(name: str, value: Any, index_sequence: int) -> NamedDescriptor:
    """One member of an index's ``artifacts``: a version of named content, written by a sequence
    at most the index's, at the one path such a version has (a mirror cannot be sent elsewhere)."""
    if not isinstance(name, str) or not ARTIFACT_NAME.fullmatch(name) or not isinstance(value, dict):
        raise VerificationError(PublicationReason.MALFORMED_INDEX, f"bad named artifact {name!r}")
    plain = Descriptor.of(value)
    try:
        sequence = int(value["sequence"])
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise VerificationError(PublicationReason.MALFORMED_INDEX, f"artifact {name}: no sequence ({exc})") from exc
    if not 0 < sequence <= index_sequence or plain.path != named_path(sequence, name):
        raise VerificationError(
            PublicationReason.MALFORMED_INDEX, f"artifact {name}: {plain.path} of {sequence} is not where it belongs"
        )
    return NamedDescriptor(plain.path, plain.sha256, plain.length, sequence)


def named_path(sequence: int, name: str) -> str:
    """Where the version of named content ``name`` written by ``sequence`` is published."""
    return f"sequences/{sequence}/{name}.jws"


# The version of the manifest a partitioned named artifact carries as its content (its groups,
# each with its parts by hash and length: docs/publication-format.md, "Partitioned content").
PARTS_MANIFEST_VERSION = 1


def part_path(name: str, sha256: str) -> str:
    """Where a part file of partitioned content ``name`` is published: by its own hash, so a part
    is written once, never rewritten, and any number of manifests can name it."""
    return f"parts/{name}/{sha256}"


def chain_path(sequence: int, kind: str) -> str:
    """Where a plain-JSON delta or span (``kind``) of ``sequence`` is published."""
    return f"sequences/{sequence}/{kind}.json"


def linked_descriptor(value: Any, *, sequence: int, kind: str, reason: PublicationReason) -> DeltaDescriptor:
    """The file before one on a chain, as that file names it (``previousDelta``, ``previousSpan``):
    by SHA-256 and length, of the sequence the naming file says it follows; at ``chain_path``
    unless a ``path`` is given (a JWS from before index version 5, which also gave its sequence
    and previous). Where it starts itself is read from it once it is loaded (``verifier.chain``).
    ``reason``: the chain's (DELTA_CHAIN, SPAN_CHAIN), for a link that cannot be read."""
    try:
        given = value.get("sequence")
        if given is not None and int(given) != sequence:
            raise VerificationError(reason, f"the {kind} after {sequence} names one of {given} before it")
        previous = value.get("previous")
        return DeltaDescriptor(
            str(value.get("path") or chain_path(sequence, kind)),
            str(value["sha256"]),
            int(value["length"]),
            sequence,
            None if previous is None else int(previous),
        )
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError) as exc:
        raise VerificationError(reason, f"bad link to the {kind} of {sequence}: {exc}") from exc
