"""The admin dashboard: per country key counts, last changes, upcoming expiries (a chart), UPLOAD
certificates about to expire with what is still signed by them (a CMS migration re-signs it), the
publication's sequence and age, and open audit findings; scoped by countries.permissions."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, Max, Q
from django.utils import timezone

from countries.models import Status
from countries.permissions import Do, can, countries_for, is_operator
from gateway.audit.models import Action, AuditEvent, Finding
from gateway.audit.words import actor_in_words, event_in_words
from migration.services import EntityType, upload_certificates
from publication.models import Publication
from trustlist.display import EXPIRING_SOON_DAYS, ago, days_left, validity_note
from trustlist.models import SignerCertificate

MONTHS = 12
RECENT_ACTIONS, RECENT_COUNT = (Action.UPLOAD, Action.REVOKE), 8
# The chart's geometry in SVG units: bars above two rows of labels (month, then year), a count axis left.
CHART_WIDTH, CHART_HEIGHT, BAR_GAP = 640, 190, 6
CHART_TOP, CHART_BOTTOM, AXIS_WIDTH = 26, 36, 34  # the axis title sits above the plot


def dashboard_context(user: Any, now: dt.datetime | None = None) -> dict[str, Any]:
    if not user.is_authenticated or not (can(user, Do.VIEW_KEYS) or user.has_perm("audit.view_finding")):
        return {}
    now = now or timezone.now()
    countries = countries_for(user, Do.VIEW_KEYS)  # None: every country (operators, auditors)
    dscs = SignerCertificate.objects.all()
    if countries is not None:
        dscs = dscs.filter(country__in=countries)
    soon = Q(revoked_at__isnull=True, not_after__gt=now, not_after__lte=now + dt.timedelta(days=EXPIRING_SOON_DAYS))
    rows = (
        dscs.values("country")
        .annotate(
            active=Count("id", filter=Q(revoked_at__isnull=True)),
            revoked=Count("id", filter=Q(revoked_at__isnull=False)),
            expiring_soon=Count("id", filter=soon),
            last_upload=Max("created_at"),
            last_revocation=Max("revoked_at"),
        )
        .order_by("country")
    )
    findings = Finding.objects.open()
    if countries is not None and not user.has_perm("audit.view_finding"):
        findings = findings.filter(country__in=countries)
    publication = Publication.objects.published().newest()
    # The admin's "Recent actions" reads Django's LogEntry, which no service writes: the audit
    # log's latest uploads and revocations in scope take its place.
    events = AuditEvent.objects.filter(action__in=RECENT_ACTIONS).order_by("-leaf_index")
    if countries is not None:
        events = events.filter(country__in=countries)
    recent = [
        {"event": event, "what": event_in_words(event.action, event.outcome), "who": actor_in_words(event.actor)}
        for event in events[:RECENT_COUNT]
    ]
    return {
        "dashboard": {
            "countries": list(rows),
            "upload_expiries": upload_expiries(user, countries, now),
            "can_resign": bool(countries_for(user, Do.RESIGN)),
            "chart": expiry_chart(dscs.filter(revoked_at__isnull=True), now),
            "publication": publication,
            "publication_age": ago(now - publication.issued_at) if publication else None,
            "findings": list(findings[:10]),
            "findings_count": findings.count(),
            "scope": "all countries" if countries is None else ", ".join(countries) or "no country",
            "operator": is_operator(user),
            "expiring_soon_days": EXPIRING_SOON_DAYS,
            "recent": recent,
        }
    }


def upload_expiries(user: Any, countries: list[str] | None, now: dt.datetime) -> list[dict[str, Any]]:
    """The active UPLOAD certificates in scope that expire within EXPIRING_SOON_DAYS (or have
    expired), each with how many DSCs, revocation batches and rule versions it still signs: what
    its country must re-sign with its successor before it ends (a CMS migration), and a link to
    that page for those who may; and those suspended or removed that still sign something (a
    verifier that checks the uploader of a DSC, as DGCG's connector does, drops such DSCs)."""
    warned = []
    for item in upload_certificates(countries):  # the inactive ones only while they sign something
        if item.party.status == Status.ACTIVE and days_left(item.not_after, now) > EXPIRING_SOON_DAYS:
            continue
        warned.append(
            {
                "country": item.party.country,
                "name": item.common_name or item.party.thumbprint[:16],
                "thumbprint": item.party.thumbprint,
                "not_after": item.not_after,
                "note": validity_note(item.not_after, now),
                "status": "" if item.party.status == Status.ACTIVE else item.party.status.lower(),
                "dscs": item.signed.get(EntityType.DSC, 0),
                "batches": item.signed.get(EntityType.REVOCATION_LIST, 0),
                "rules": item.signed.get(EntityType.VALIDATION_RULE, 0),
                "total": item.total,
                "can_resign": can(user, Do.RESIGN, item.party.country),
            }
        )
    return warned


def expiry_chart(dscs: Any, now: dt.datetime) -> dict[str, Any]:
    """Bars of DSCs expiring per month over the next twelve months, as SVG coordinates, with a
    count axis on the left and each month labelled with its year where the year starts."""
    starts = [_month_start(now, offset) for offset in range(MONTHS + 1)]
    # One query: the expiry dates still ahead in the window, bucketed here (month functions differ
    # between databases and time zones; a year of DSCs is a few thousand dates at most).
    dates = dscs.filter(not_after__gte=now, not_after__lt=starts[-1]).values_list("not_after", flat=True)
    counts = [0] * MONTHS
    for stored in dates:
        not_after = stored.astimezone(starts[0].tzinfo)
        counts[(not_after.year - starts[0].year) * 12 + not_after.month - starts[0].month] += 1
    peak = max(counts) or 1
    plot_height = CHART_HEIGHT - CHART_TOP - CHART_BOTTOM
    width = (CHART_WIDTH - AXIS_WIDTH - BAR_GAP * (MONTHS + 1)) / MONTHS
    bars = []
    for i, count in enumerate(counts):
        height = round(plot_height * count / peak)
        x = AXIS_WIDTH + BAR_GAP + i * (width + BAR_GAP)
        first_of_year = i == 0 or starts[i].month == 1
        bars.append(
            {
                "x": round(x, 1),
                "y": CHART_TOP + plot_height - height,
                "width": round(width, 1),
                "height": height,
                "count": count,
                "label": starts[i].strftime("%b"),
                "year": starts[i].year if first_of_year else None,
                "label_x": round(x + width / 2, 1),
                "title": f"{count} DSC(s) expire in {starts[i]:%B %Y}",
            }
        )
    ticks = sorted({0, peak // 2, peak}) if peak > 1 else [0, 1]
    axis = [{"value": t, "y": round(CHART_TOP + plot_height - plot_height * t / peak, 1)} for t in ticks]
    return {
        "bars": bars,
        "ticks": axis,
        "axis_x": AXIS_WIDTH,
        "baseline": CHART_TOP + plot_height,
        "label_y": CHART_TOP + plot_height + 14,
        "year_y": CHART_TOP + plot_height + 28,
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "total": sum(counts),
        "first_month": starts[0],
        "last_month": starts[MONTHS - 1],
    }


def _month_start(now: dt.datetime, offset: int) -> dt.datetime:
    month = now.month - 1 + offset
    return now.replace(
        year=now.year + month // 12, month=month % 12 + 1, day=1, hour=0, minute=0, second=0, microsecond=0
    )
