"""Atomic files in the publish folder: a reader sees the old bytes or the new ones, never half."""

from __future__ import annotations

import concurrent.futures
import contextlib
import fcntl
import hashlib
import os
import queue
import shutil
import threading
import zlib
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import BinaryIO

# Pre-compressed copies for nginx gzip_static and the Django view. Level 1: measured at 100,000
# DSCs it compresses the trust list 1.7x faster than level 6 for 13% more bytes
# (docs/benchmarks-publication.md).
GZIP_LEVEL = 1


def write_atomically(root: Path, relative: str, data: bytes, *, with_gzip: bool = False) -> None:
    """Temporary file in the same folder, fsync, rename over the target, fsync the folder."""
    with streamed(root, relative, with_gzip=with_gzip) as stream:
        stream.write(data)


class Stream:
    """Bytes written to a temporary file (and its gzip twin), hashed and counted on the way.

    With a gzip twin (the full lists and the DID document, up to 145 MB at 100,000 DSCs), a second
    thread hashes, compresses and writes while the caller builds the next bytes: zlib and hashlib
    release the GIL on large buffers, so the two run on two cores (bench/publication.py).
    """

    QUEUED_BLOCKS = 8  # at most this many blocks wait for the writer thread (a few MiB)

    def __init__(self, target: Path, with_gzip: bool) -> None:
        self.target = target
        self.temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        self.handle = open(self.temporary, "wb")
        self.digest = hashlib.sha256()
        self.length = 0
        self.gzip_target = target.with_name(target.name + ".gz") if with_gzip else None
        self.gzip_temporary = (
            self.gzip_target.with_name(f".{self.gzip_target.name}.{os.getpid()}.tmp") if self.gzip_target else None
        )
        self.gzip_handle = open(self.gzip_temporary, "wb") if self.gzip_temporary else None
        # wbits 31: a gzip member with a header whose mtime is 0, as gzip.compress(mtime=0) writes.
        self.compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31) if with_gzip else None
        self._error: BaseException | None = None
        self._queue: queue.Queue[bytes | None] | None = None
        self._writer: threading.Thread | None = None
        if with_gzip:
            self._queue = queue.Queue(maxsize=self.QUEUED_BLOCKS)
            self._writer = threading.Thread(target=self._drain, name=f"write {target.name}", daemon=True)
            self._writer.start()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        self.length += len(data)
        if self._queue is None:
            self._consume(data)
            return
        self._raise_if_failed()
        self._queue.put(bytes(data))  # a copy: the caller may reuse its buffer

    def _consume(self, data: bytes | bytearray | memoryview) -> None:
        self.handle.write(data)
        self.digest.update(data)
        if self.compressor is not None and self.gzip_handle is not None:
            self.gzip_handle.write(self.compressor.compress(data))

    def _drain(self) -> None:
        assert self._queue is not None
        while (block := self._queue.get()) is not None:
            if self._error is None:  # after a failure, keep emptying the queue so the caller never blocks
                try:
                    self._consume(block)
                except BaseException as exc:
                    self._error = exc

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error

    def _stop_writer(self) -> None:
        if self._writer is not None and self._queue is not None:
            self._queue.put(None)
            self._writer.join()
            self._writer = None

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()

    def finish(self) -> None:
        self._stop_writer()
        self._raise_if_failed()
        if self.compressor is not None and self.gzip_handle is not None:
            self.gzip_handle.write(self.compressor.flush())
            _close_synced(self.gzip_handle)
        _close_synced(self.handle)
        # The plain file last: a reader that finds it also finds its .gz twin up to date.
        if self.gzip_temporary is not None and self.gzip_target is not None:
            os.replace(self.gzip_temporary, self.gzip_target)
        os.replace(self.temporary, self.target)
        _fsync_directory(self.target.parent)

    def abort(self) -> None:
        self._stop_writer()
        for handle in (self.handle, self.gzip_handle):
            if handle is not None and not handle.closed:
                handle.close()
        for path in (self.temporary, self.gzip_temporary):
            if path is not None:
                path.unlink(missing_ok=True)


@contextlib.contextmanager
def streamed(root: Path, relative: str, *, with_gzip: bool = False) -> Iterator[Stream]:
    """Write a file piece by piece; it appears (renamed into place) only if the block succeeds."""
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    stream = Stream(target, with_gzip)
    try:
        yield stream
        stream.finish()
    except BaseException:
        stream.abort()
        raise


class ManyFiles:
    """Many small files written as :func:`write_atomically` writes one (a temporary file, fsync,
    rename), but on a few threads, and each folder fsynced once at the end rather than after
    every file.

    For the part files of partitioned content: a full build writes thousands (4,000 at 10 million
    revoked hashes), and one after another each waited for its own journal commit, twice (the
    file, then its folder): 24 of the 93 s of that build (bench/revocation_publication.py). The
    threads' fsyncs overlap and share commits; the caller goes on encoding the next files
    meanwhile (file writes and fsync release the GIL). A file is renamed into place only once its
    bytes are on disk, and :meth:`close` returns only once every file and folder is, so a
    manifest written after it never names a part a crash could lose.
    """

    THREADS = 8
    PENDING = 32  # files at most waiting for a thread: bounded memory (a part is at most ~64 KiB)

    def __init__(self, root: Path) -> None:
        self.root = root
        self._folders: set[Path] = set()
        self._submitted: set[str] = set()
        self._slots = threading.BoundedSemaphore(self.PENDING)
        self._futures: list[concurrent.futures.Future[None]] = []
        self._pool = concurrent.futures.ThreadPoolExecutor(self.THREADS, thread_name_prefix="write part")

    def write(self, relative: str, data: bytes) -> None:
        """Queue ``data`` for ``relative`` (the same path twice is written once); raises the
        error of a write that already failed."""
        if relative in self._submitted:
            return
        self._raise_if_failed()
        target = self.root / relative
        if target.parent not in self._folders:
            target.parent.mkdir(parents=True, exist_ok=True)
            self._folders.add(target.parent)
        self._submitted.add(relative)
        self._slots.acquire()
        future = self._pool.submit(self._write, target, data)
        future.add_done_callback(lambda _: self._slots.release())
        self._futures.append(future)

    @staticmethod
    def _write(target: Path, data: bytes) -> None:
        # The thread's id in the temporary name: two writers of one folder never share one.
        temporary = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise

    def _raise_if_failed(self) -> None:
        done = [future for future in self._futures if future.done()]
        for future in done:
            future.result()  # raises the write's error
        self._futures = [future for future in self._futures if not future.done()]

    def close(self) -> None:
        """Wait for every write, raise the first error, then fsync each folder written to."""
        self._pool.shutdown(wait=True)
        for future in self._futures:
            future.result()
        self._futures.clear()
        for folder in sorted(self._folders):
            _fsync_directory(folder)

    def abort(self) -> None:
        """Stop: writes not started are dropped, those under way end (their files, if renamed
        into place, are whole: nothing names them, and pruning removes them)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._futures.clear()


@contextlib.contextmanager
def many_files(root: Path) -> Iterator[ManyFiles]:
    """:class:`ManyFiles` for the block: all its files are durable when it ends without error."""
    writer = ManyFiles(root)
    try:
        yield writer
    except BaseException:
        writer.abort()
        raise
    writer.close()


def _close_synced(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())
    handle.close()


def _fsync_directory(folder: Path) -> None:
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@contextlib.contextmanager
def folder_lock(root: Path, name: str = ".lock", *, wait: bool = True) -> Iterator[None]:
    """Exclusive lock on the publish folder across processes of this machine (without ``wait``,
    BlockingIOError if another process holds it)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / name, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


FULL_LIST_FILES = ("trustlist.jws", "trustlist.jws.gz", "revocations.jws", "revocations.jws.gz")
# Plain JSON from index version 5, JWS before (a folder upgraded in place holds both kinds).
DELTA_FILES = ("delta.json", "delta.jws")
SPAN_FILES = ("span.json", "span.jws")


def prune(
    root: Path,
    *,
    floor: int,
    keep_full: set[int],
    keep_above: int,
    keep_spans: Collection[int] = frozenset(),
    keep_named: Collection[str] = frozenset(),
) -> None:
    """Delete the deltas of sequences below ``floor``, full lists outside ``keep_full``, spans
    outside ``keep_spans`` and named artifacts (any other ``*.jws``) whose paths are not in
    ``keep_named``; a folder left with nothing goes.

    Nothing above ``keep_above`` (the newest sequence whose full lists an index names) loses its
    full lists, its span or its named artifacts: a rebuild may be writing them for an index yet to come.
    """
    sequences = root / "sequences"
    if not sequences.is_dir():
        return
    fixed = {*FULL_LIST_FILES, *DELTA_FILES, *SPAN_FILES}
    for folder in sequences.iterdir():
        if not folder.name.isdigit():
            continue
        number = int(folder.name)
        keep_delta = number >= floor
        keep_lists = number in keep_full or number > keep_above
        keep_span = number > keep_above or number in keep_spans
        named = {path.relative_to(root).as_posix(): path.name for path in folder.glob("*.jws")}
        named = {relative: name for relative, name in named.items() if name not in fixed}
        kept_named = {name for relative, name in named.items() if number > keep_above or relative in keep_named}
        if not (keep_delta or keep_lists or keep_span or kept_named):
            shutil.rmtree(folder, ignore_errors=True)
            continue
        doomed = [] if keep_lists else list(FULL_LIST_FILES)
        doomed += [] if keep_delta else list(DELTA_FILES)
        doomed += [] if keep_span else list(SPAN_FILES)
        doomed += sorted(set(named.values()) - kept_named)
        for name in doomed:
            (folder / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # not empty: something in it is kept
            folder.rmdir()


def prune_parts(root: Path, name: str, keep: Collection[str]) -> None:
    """Delete the part files of partitioned content ``name`` whose paths (relative to ``root``)
    are not in ``keep``."""
    folder = root / "parts" / name
    if not folder.is_dir():
        return
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue  # a temporary file of a write under way
        if path.relative_to(root).as_posix() not in keep:
            path.unlink(missing_ok=True)
