"""Show the current published sequence, its age, expiry and hashes."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from gateway.outbox.models import Change
from publication.chain import deltas_since
from publication.models import Publication
from publication.service import rebuild_due


class Command(BaseCommand):
    help = "Current published sequence, age, expiry, hashes and unpublished changes."

    def handle(self, *args: Any, **options: Any) -> None:
        publication = Publication.objects.published().newest()
        if publication is None:
            self.stdout.write("nothing published yet")
            return
        now = timezone.now()
        p = publication
        pending = Change.objects.filter(id__gt=p.change_high_water).count()
        lines = [
            ("sequence", f"{p.id}"),
            ("issued", f"{p.issued_at.isoformat()} ({(now - p.issued_at).total_seconds():.0f} s ago)"),
            ("expires", f"{p.expires_at.isoformat()} (in {(p.expires_at - now).total_seconds():.0f} s)"),
            ("full lists of", f"sequence {p.full_sequence} ({_deltas_since(p)} delta(s) since)"),
            ("trust list", f"{p.trusted_count} entries, {p.trust_list_length} bytes, sha256 {p.trust_list_sha256}"),
            (
                "revocation list",
                f"{p.revoked_count} entries, {p.revocation_list_length} bytes, sha256 {p.revocation_list_sha256}",
            ),
            ("rebuild due", _rebuild()),
            ("index", f"sha256 {p.index_sha256}"),
            ("publisher key", p.publisher_kid),
            ("unpublished", f"{pending} change(s)"),
        ]
        for label, value in lines:
            self.stdout.write(f"{label:<16}{value}")


def _deltas_since(publication: Publication) -> int:
    return deltas_since(publication.full_sequence or publication.id)


def _rebuild() -> str:
    due = rebuild_due()
    if due is None:
        return "no (the full lists are current)"
    return "now" if due <= 0 else f"in {due:.0f} s"
