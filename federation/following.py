"""Following a peer of this kind: its public publication, caught up with the verifier's own
algorithm (``verifier.sync.catch_up``) against the peer's pinned trust anchor, from the peer's
index this gateway holds (in the peer row). The catch-up checks signatures and refuses rollback,
freeze (an expired index), forks, mix and match and oversize; when the peer's chain of deltas
reaches the sequence held it downloads only the deltas since, so a change at the peer costs work
here in proportion to the change. Nothing of the peer's lists is kept here but the rows imported.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from federation import statements
from federation.importing import PeerState
from federation.models import Peer
from verifier.chain import apply_delta
from verifier.encoding import b64url_decode, parse_time
from verifier.fetch import Fetch
from verifier.reasons import PublicationReason, VerificationError
from verifier.sync import Response, catch_up


@dataclass(frozen=True)
class Followed:
    state: PeerState  # the entries of ``touched``, or (full) every entry, at the peer's sequence
    touched: set[str] | None  # None: the full lists came (compare everything)
    index: bytes  # the peer's signed index
    downloaded: int


def follow(
    peer: Peer, now: dt.datetime, *, fetch: Fetch | None = None, timeout: float = 60.0, afresh: bool = False
) -> Followed | None:
    """What changed at the peer since the index held (None: nothing); ``afresh``: its full lists,
    to compare with every row (still never below the sequence held). Raises
    verifier.reasons.VerificationError; nothing is stored here either way."""
    anchor = statements.trust_anchor_certificate(peer)
    held = b"" if afresh else bytes(peer.last_index or b"")
    caught = catch_up(peer.endpoint, held, [anchor], now, fetch=fetch, timeout=timeout)
    if caught is None:
        return None
    if caught.index.sequence < (peer.last_sequence or 0):
        raise VerificationError(
            PublicationReason.ROLLBACK, f"sequence {caught.index.sequence} is below the {peer.last_sequence} held"
        )
    if caught.full is not None:
        trusted, revoked = caught.full
        touched = None
    else:
        trusted, revoked = {}, {}
        touched = caught.touched()
    for delta in caught.deltas:
        apply_delta(trusted, delta, revoked)
    state = PeerState(caught.index.sequence, trusted, revoked)
    return Followed(state, touched, caught.index.raw, caught.downloaded)


def folder_fetch(folder: Path, endpoint: str) -> Fetch:
    """Read a peer's publication from an offline copy of its folder (air-gapped operation): the
    files are verified exactly as if they had been downloaded from ``endpoint``."""
    root = folder.resolve()

    def fetch(url: str, headers: dict[str, str], cap: int, progress: object) -> Response:
        target = (root / url.removeprefix(endpoint.rstrip("/") + "/")).resolve()
        if not target.is_relative_to(root) or not target.is_file():
            return Response(404, {}, b"")
        if target.stat().st_size > cap:
            raise VerificationError(PublicationReason.OVERSIZE, f"{target}: more than {cap} bytes")
        return Response(200, {}, target.read_bytes())

    return fetch


def issued_at(index: bytes) -> dt.datetime:
    """When the peer signed ``index`` (verified by the catch-up that fetched it)."""
    return parse_time(json.loads(b64url_decode(index.split(b".")[1]))["issuedAt"])
