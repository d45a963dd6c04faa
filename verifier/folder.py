"""End-to-end check of a publish folder, or a mirror of it: every file a verifier would download,
as it would check it (``manage.py verify_publication`` and the signature audit run this)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from verifier.chain import DeltaLoader, walk_chain, walk_spans
from verifier.descriptors import DeltaDescriptor, Descriptor, FullDescriptor
from verifier.did import verify_did_document
from verifier.index import VerifiedIndex, verify_content, verify_index, verify_named
from verifier.reasons import PublicationReason, VerificationError


@dataclass
class FolderReport:
    sequence: int = 0
    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def verify_folder(root: Path, anchors: Sequence[x509.Certificate], now: dt.datetime) -> FolderReport:
    """End-to-end check of a publish folder (or a mirror of it): what a verifier would download."""
    report = FolderReport()
    try:
        index = verify_index((root / "index.jws").read_bytes(), anchors, now)
    except (OSError, VerificationError) as exc:
        report.problems.append(f"index.jws: {exc}")
        return report
    report.sequence = index.sequence
    report.checked.append("index.jws")
    listed: list[tuple[Descriptor, str, int]] = [
        (index.trust_list, "trust-list", index.full_sequence),
        (index.revocation_list, "revocation-list", index.full_sequence),
    ]
    for descriptor, kind, sequence in listed:
        try:
            data = (root / descriptor.path).read_bytes()
            payload = verify_named(data, descriptor, index, anchors, now, kind=kind, sequence=sequence)
            if isinstance(descriptor, FullDescriptor) and descriptor.entries not in (None, len(payload["entries"])):
                raise VerificationError(
                    PublicationReason.ENTRY_COUNT,
                    f"{len(payload['entries'])} entries, the index says {descriptor.entries}",
                )
            report.checked.append(descriptor.path)
        except (OSError, VerificationError, KeyError, ValueError) as exc:
            report.problems.append(f"{descriptor.path}: {exc}")
    for name, named in sorted(index.artifacts.items()):
        try:
            verify_content((root / named.path).read_bytes(), name, index, anchors, now)
            report.checked.append(named.path)
        except (OSError, VerificationError) as exc:
            report.problems.append(f"{named.path}: {exc}")
    _check_folder_chain(root, index, anchors, now, report)
    did = root / "did.json"
    if did.exists():
        try:
            verify_did_document(did.read_bytes(), anchors, now)
            report.checked.append("did.json")
        except VerificationError as exc:
            report.problems.append(f"did.json: {exc}")
    return report


def folder_loader(
    root: Path, index: VerifiedIndex, anchors: Sequence[x509.Certificate], now: dt.datetime, *, kind: str = "delta"
) -> DeltaLoader:
    """A ``walk_chain`` (or, with kind "span", ``walk_spans``) loader reading from a publish
    folder (or a mirror of it)."""

    def load(descriptor: DeltaDescriptor) -> dict[str, Any]:
        data = (root / descriptor.path).read_bytes()
        return verify_named(data, descriptor, index, anchors, now, kind=kind, sequence=descriptor.sequence)

    return load


def _check_folder_chain(
    root: Path, index: VerifiedIndex, anchors: Sequence[x509.Certificate], now: dt.datetime, report: FolderReport
) -> None:
    """Every delta of the chain, from the head back to its start, as a verifier would walk it."""
    if index.head is None:
        return
    read = folder_loader(root, index, anchors, now)

    def load(descriptor: DeltaDescriptor) -> dict[str, Any]:
        payload = read(descriptor)
        report.checked.append(descriptor.path)
        return payload

    try:
        # The oldest delta may name its predecessor (pruned since): nothing to compare it with.
        walk_chain(index, index.chain_start, load, check_link=False)
    except (OSError, VerificationError, KeyError, ValueError) as exc:
        report.problems.append(f"delta chain: {exc}")
    if index.span is None or index.span_start is None:
        return
    read_span = folder_loader(root, index, anchors, now, kind="span")

    def load_span(descriptor: DeltaDescriptor) -> dict[str, Any]:
        payload = read_span(descriptor)
        report.checked.append(descriptor.path)
        return payload

    try:
        walk_spans(index, index.span_start, load_span)
    except (OSError, VerificationError, KeyError, ValueError) as exc:
        report.problems.append(f"span chain: {exc}")
