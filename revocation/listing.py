"""DGCG's ``GET /revocation-list`` page: the batches changed after a moment, oldest change first."""

from __future__ import annotations

import datetime as dt
from typing import Any

from revocation.models import RevocationBatch

PAGE_SIZE = 1000  # DGCG's limit (its DTO's "10K" is not what its code does)


def page_after(since: dt.datetime, *, size: int = PAGE_SIZE) -> tuple[list[RevocationBatch], bool]:
    """The batches with ``changed > since`` (DGCG; TNG's ``>=`` repeats rows), at most ``size``,
    and whether more follow. Clients ask for the next page with the last item's ``date``, so a
    page never ends inside a group of rows that share one ``changed`` (the cleanup marks many
    at one moment): such a group is left to the next page, or, when it fills the whole page,
    given whole."""
    rows = list(RevocationBatch.objects.changed_after(since)[: size + 1])
    if len(rows) <= size:
        return rows, False
    boundary = rows[size].changed
    page = [row for row in rows[:size] if row.changed != boundary]
    if not page:
        page = list(RevocationBatch.objects.changed_after(since).filter(changed=boundary))
    return page, True


def render_page(page: list[RevocationBatch], more: bool) -> dict[str, Any]:
    return {
        "more": more,
        "batches": [
            {"batchId": row.batch_id, "country": row.country, "date": render_date(row.changed), "deleted": row.deleted}
            for row in page
        ],
    }


def render_date(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with the microseconds stored, so that the date, sent back as
    If-Modified-Since, selects exactly the rows after it."""
    return moment.astimezone(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
