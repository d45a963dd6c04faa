"""The admin dashboard: per country key counts, last changes, upcoming expiries (a chart), the
publication's sequence and age, and open audit findings; scoped by countries.permissions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max, Q
from django.utils import timezone

from countries.permissions import Do, can, countries_for, is_operator
from gateway.audit.models import Finding
from trustlist.models import Publication, SignerCertificate

MONTHS = 12
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 600, 140, 6


def dashboard_context(user: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    if not user.is_authenticated or not (can(user, Do.VIEW_KEYS) or user.has_perm("audit.view_finding")):
        return {}
    now = now or timezone.now()
    countries = countries_for(user, Do.VIEW_KEYS)
    dscs = SignerCertificate.objects.all()
    if countries is not None:
        dscs = dscs.filter(country__in=countries)
    rows = (
        dscs.values("country")
        .annotate(
            active=Count("id", filter=Q(revoked_at__isnull=True)),
            revoked=Count("id", filter=Q(revoked_at__isnull=False)),
            last_upload=Max("created_at"),
            last_revocation=Max("revoked_at"),
        )
        .order_by("country")
    )
    findings = Finding.objects.open()
    if countries is not None and not user.has_perm("audit.view_finding"):
        findings = findings.filter(country__in=countries)
    publication = Publication.objects.filter(index_sha256__gt="").order_by("-id").first()
    return {
        "dashboard": {
            "countries": list(rows),
            "chart": expiry_chart(dscs.filter(revoked_at__isnull=True), now),
            "publication": publication,
            "publication_age": (now - publication.issued_at) if publication else None,
            "findings": list(findings[:10]),
            "findings_count": findings.count(),
            "scope": "all countries" if countries is None else ", ".join(countries) or "none",
            "operator": is_operator(user),
        }
    }


def expiry_chart(dscs: Any, now: dt.datetime) -> dict[str, Any]:
    """Bars of DSCs expiring per month over the next twelve months, as SVG coordinates."""
    starts = [_month_start(now, offset) for offset in range(MONTHS + 1)]
    counts = [dscs.filter(not_after__gte=starts[i], not_after__lt=starts[i + 1]).count() for i in range(MONTHS)]
    peak = max(counts) or 1
    width = (CHART_WIDTH - BAR_GAP * (MONTHS + 1)) / MONTHS
    bars = []
    for i, count in enumerate(counts):
        height = round((CHART_HEIGHT - 30) * count / peak)
        x = BAR_GAP + i * (width + BAR_GAP)
        bars.append(
            {
                "x": round(x, 1),
                "y": CHART_HEIGHT - 18 - height,
                "width": round(width, 1),
                "height": height,
                "count": count,
                "label": starts[i].strftime("%b"),
                "label_x": round(x + width / 2, 1),
                "title": f"{count} DSC(s) expire in {starts[i]:%B %Y}",
            }
        )
    return {"bars": bars, "width": CHART_WIDTH, "height": CHART_HEIGHT, "total": sum(counts)}


def _month_start(now: dt.datetime, offset: int) -> dt.datetime:
    month = now.month - 1 + offset
    return now.replace(
        year=now.year + month // 12, month=month % 12 + 1, day=1, hour=0, minute=0, second=0, microsecond=0
    )
