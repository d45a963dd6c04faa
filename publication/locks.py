"""The locks that serialise publishers, and the read snapshot a publication's rows come from.

Publishers are serialised by a lock on the publish folder (the processes of one machine) and a
PostgreSQL advisory lock (several machines). Rebuilds of the full lists are serialised among
themselves by a second pair, and take the publishers' pair only for the milliseconds of
publishing an index, so a change is never queued behind a rebuild.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.db import transaction

from publication import files
from publication.folder import publish_dir
from publication.models import Publication

_ADVISORY_LOCK_KEY = 0x7472757374  # "trust": publishers
_REBUILD_LOCK_KEY = 0x7472757375  # rebuilds of the full lists


class RebuildRunning(Exception):
    """Another rebuild holds the rebuild lock (and will see the changes it may miss: its task
    requests the next rebuild when it ends)."""


@contextlib.contextmanager
def read_snapshot() -> Iterator[None]:
    """One read-only transaction in which the rows and the outbox high-water mark describe one instant."""
    with transaction.atomic():
        Publication.objects.read_only_snapshot()
        yield


@contextlib.contextmanager
def serialised(*, rebuild: bool = False, wait: bool = True) -> Iterator[None]:
    """Hold the publishers' locks (``rebuild``: the rebuilds'). Without ``wait``, raise
    :class:`RebuildRunning` if another process holds them."""
    key = _REBUILD_LOCK_KEY if rebuild else _ADVISORY_LOCK_KEY
    try:
        folder = files.folder_lock(publish_dir(), ".rebuild.lock" if rebuild else ".lock", wait=wait)
        folder.__enter__()
    except BlockingIOError as exc:
        raise RebuildRunning("another rebuild holds the publish folder's rebuild lock") from exc
    try:
        if not Publication.objects.advisory_lock(key, wait=wait):
            raise RebuildRunning("another rebuild holds the rebuild lock")
        try:
            yield
        finally:
            Publication.objects.advisory_unlock(key)
    finally:
        folder.__exit__(None, None, None)
