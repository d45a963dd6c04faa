"""Recompute the audit log and check it against stored and exported checkpoints, and against the
tree head of the index published in the publish folder (docs/audit.md, "Verification")."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from cryptography import x509
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from gateway.audit.verification import (
    INDEX_NAME,
    LogProblem,
    SignedHead,
    head_from_index,
    head_from_jws,
    verify_against_signed_heads,
)
from verifier.certificates import load_anchor
from verifier.reasons import VerificationError


class Command(BaseCommand):
    help = (
        "Verify the audit log: gapless indexes, canonical leaves, roots of every signed checkpoint, "
        "and that it extends the tree head of the published index (GATEWAY_PUBLISH_DIR)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--against",
            action="append",
            default=[],
            help="an exported checkpoint (JSON from export_audit_checkpoint, or a published index.jws)",
        )
        parser.add_argument("--trust-anchor", action="append", help="PEM (default: GATEWAY_TRUST_ANCHOR_FILES)")
        parser.add_argument("--at", help="time to check signatures at, ISO 8601 (default: now)")

    def handle(self, *args: Any, **options: Any) -> None:
        anchors = [
            load_anchor(Path(p).read_bytes()) for p in (options["trust_anchor"] or settings.GATEWAY_TRUST_ANCHOR_FILES)
        ]
        at = dt.datetime.fromisoformat(options["at"]) if options["at"] else dt.datetime.now(dt.UTC)
        exported = []
        for path in options["against"] or []:
            try:
                exported.append(_exported_head(Path(path), anchors, at))
            except (OSError, ValueError, KeyError, TypeError, VerificationError) as exc:
                raise CommandError(f"{path}: not a verifiable checkpoint ({exc})") from exc
        verified = verify_against_signed_heads(anchors, at, exported)
        report = verified.report
        self.stdout.write(f"checked against {verified.stored} stored checkpoint(s)")
        if verified.published is not None:
            self.stdout.write(f"checked against {verified.published.label}")
        elif LogProblem.INDEX_UNVERIFIABLE not in report.reasons:
            index = Path(settings.GATEWAY_PUBLISH_DIR) / INDEX_NAME
            self.stdout.write(f"no index is published yet ({index}): no published tree head to check against")
        for head in exported:
            self.stdout.write(f"checked against {head.label}")
        for problem in report.problems:
            self.stdout.write(f"PROBLEM  {problem}")
        if not report.ok:
            named = ", ".join(dict.fromkeys(report.reasons))
            raise CommandError(f"audit log verification failed ({named}); first bad index: {report.first_bad_index}")
        self.stdout.write(f"audit log of {report.size} leaves verified against {report.checked_heads} checkpoint(s)")


def _exported_head(path: Path, anchors: list[x509.Certificate], at: dt.datetime) -> SignedHead:
    """A checkpoint exported as JSON (its own JWS), or a published index (whose signature covers
    the tree head it carries)."""
    data = path.read_bytes().strip()
    if data.startswith(b"{"):
        return head_from_jws(json.loads(data)["jws"], anchors, at, f"exported {path}")
    return head_from_index(data, anchors, at, f"index {path}")
