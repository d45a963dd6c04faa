"""How fresh the published trust data is, as verifiers see it.

Read from the index on disk (what nginx serves) and from the outbox (what is still waiting),
so the health check and the metrics report the same thing. No signature check: the gateway
wrote the index itself; verifiers check it (docs/publication-format.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from gateway.outbox.models import Change

UNREADABLE = -1  # the sequence reported for an index file that is there but cannot be decoded


@dataclass(frozen=True)
class PublicationState:
    sequence: int | None
    issued_at: dt.datetime | None
    expires_at: dt.datetime | None
    unpublished_changes: int
    oldest_unpublished_at: dt.datetime | None


def read_state(publish_dir: Path) -> PublicationState:
    index = _index_payload(publish_dir / "index.jws")
    waiting = Change.objects.filter(published_at__isnull=True)
    oldest = waiting.order_by("id").values_list("at", flat=True).first()
    return PublicationState(
        sequence=int(index["sequence"]) if index else None,
        issued_at=_time(index.get("issuedAt")) if index else None,
        expires_at=_time(index.get("expiresAt")) if index else None,
        unpublished_changes=waiting.count() if oldest is not None else 0,
        oldest_unpublished_at=oldest,
    )


def problems(state: PublicationState, *, now: dt.datetime, max_lag: dt.timedelta) -> list[str]:
    """Why verifiers are not getting current trust data; empty when they are."""
    found = []
    if state.sequence is None:
        found.append("nothing is published")
    elif state.sequence == UNREADABLE:
        found.append("the published index cannot be read")
    elif state.expires_at is not None and now >= state.expires_at:
        found.append("the published index has expired")
    if state.oldest_unpublished_at is not None and now - state.oldest_unpublished_at > max_lag:
        found.append(f"a change has waited more than {max_lag.total_seconds():g} s to be published")
    return found


def _index_payload(path: Path) -> dict[str, object] | None:
    try:
        compact = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        payload = compact.split(b".")[1]
        return json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {"sequence": UNREADABLE}


def _time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
