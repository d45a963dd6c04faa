"""Following a peer of this kind: its public publication, synced with the verifier's own
algorithm (``verifier.sync``) against the peer's pinned trust anchor, into a state folder of its
own. The sync checks signatures, refuses rollback, freeze (an expired index), forks, mix and
match and oversize, and catches up by deltas or spans, so a change at the peer costs work here in
proportion to the change; a refused sync leaves the folder as it was.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.conf import settings

from federation import statements
from federation.importing import PeerState
from federation.models import Peer
from verifier.encoding import b64url_decode, parse_time
from verifier.fetch import Fetch
from verifier.sync import SyncState, sync


def state_folder(peer: Peer) -> Path:
    return Path(settings.GATEWAY_FEDERATION_STATE_DIR) / peer.gateway_id


def held_state(peer: Peer) -> PeerState | None:
    """The peer's state this gateway's folder holds, or None if it holds none."""
    folder = state_folder(peer)
    state = SyncState.load(folder)
    if not state.index:
        return None
    return PeerState(state.sequence, state.trusted, state.revoked)


def issued_at(index: bytes) -> dt.datetime:
    """When the peer signed ``index`` (verified by the sync that fetched it)."""
    return parse_time(json.loads(b64url_decode(index.split(b".")[1]))["issuedAt"])


def follow(
    peer: Peer, now: dt.datetime, *, fetch: Fetch | None = None, timeout: float = 60.0
) -> tuple[PeerState, bytes]:
    """Sync the peer's publication; its state now and the signed index that vouches for it.
    Raises verifier.reasons.VerificationError (the folder then holds what it held)."""
    anchor = statements.trust_anchor_certificate(peer)
    folder = state_folder(peer)
    sync(peer.endpoint, folder, [anchor], now, fetch=fetch, timeout=timeout)
    state = SyncState.load(folder)
    return PeerState(state.sequence, state.trusted, state.revoked), state.index
