"""The publish folder's atomic, streamed files (publication/files.py), in particular the
writer thread that hashes and compresses large files beside the producer."""

from __future__ import annotations

import gzip
import hashlib
import os

import pytest

from publication import files

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run


def _blocks(count: int) -> list[bytes]:
    return [os.urandom(1 << 16) + bytes([n % 256]) * (1 << 18) for n in range(count)]


@pytest.mark.parametrize("with_gzip", [False, True])
def test_streamed_file_hash_length_and_gzip_twin(tmp_path, with_gzip):
    blocks = _blocks(40)  # more than the writer's queue holds
    buffer = bytearray()
    with files.streamed(tmp_path, "sequences/1/list.jws", with_gzip=with_gzip) as stream:
        for block in blocks:
            buffer[:] = block  # the caller reuses its buffer: what was written must not change
            stream.write(buffer)
    expected = b"".join(blocks)
    target = tmp_path / "sequences/1/list.jws"
    assert target.read_bytes() == expected
    assert (stream.sha256, stream.length) == (hashlib.sha256(expected).hexdigest(), len(expected))
    twin = target.with_name("list.jws.gz")
    assert twin.exists() == with_gzip
    if with_gzip:
        assert gzip.decompress(twin.read_bytes()) == expected
    assert [p.name for p in target.parent.iterdir() if p.name.endswith(".tmp")] == []


def _write(tmp_path, blocks: list[bytes], *, fail_producer: bool = False, fail_disk=None) -> None:
    with files.streamed(tmp_path, "did.json", with_gzip=True) as stream:
        if fail_disk is not None:
            fail_disk.setattr(stream.handle, "write", _disk_full)
        for block in blocks:
            stream.write(block)
        if fail_producer:
            raise RuntimeError("the producer failed half-way")


def _disk_full(data):
    raise OSError("disk full")


def test_a_failing_producer_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        _write(tmp_path, [b"x" * 100_000], fail_producer=True)
    assert list(tmp_path.iterdir()) == []


def test_a_failing_writer_thread_surfaces_in_the_caller(tmp_path, monkeypatch):
    with pytest.raises(OSError, match="disk full"):
        _write(tmp_path, _blocks(20), fail_disk=monkeypatch)
    assert list(tmp_path.iterdir()) == []


def test_a_writer_failure_after_the_last_block_surfaces_at_finish(tmp_path, monkeypatch):
    with pytest.raises(OSError, match="disk full"):
        _write(tmp_path, [b"the only block"], fail_disk=monkeypatch)
    assert list(tmp_path.iterdir()) == []


# --- many small files (the parts of partitioned content) ----------------------------------------------


def test_many_files_are_written_whole_once_each_with_their_folders_synced(tmp_path, monkeypatch):
    synced: list[str] = []
    fsync_directory = files._fsync_directory
    monkeypatch.setattr(files, "_fsync_directory", lambda folder: synced.append(folder.name) or fsync_directory(folder))
    written = {f"parts/x/{n:03d}": os.urandom(1000 + n) for n in range(3 * files.ManyFiles.PENDING)}
    with files.many_files(tmp_path) as writer:
        for path, data in written.items():
            writer.write(path, data)
        writer.write("parts/x/000", b"the same path again is not written twice")
        writer.write("parts/y/a", b"another folder")
    for path, data in written.items():
        assert (tmp_path / path).read_bytes() == data
    assert (tmp_path / "parts/y/a").read_bytes() == b"another folder"
    assert sorted(synced) == ["x", "y"], "each folder once, after its files"
    assert [p for p in tmp_path.rglob("*.tmp")] == []


def _write_many(root, paths: list[str], *, then: Exception | None = None) -> None:
    with files.many_files(root) as writer:
        for path in paths:
            writer.write(path, path.encode())
        if then is not None:
            raise then


def test_a_failed_write_among_many_surfaces_and_leaves_no_temporary_file(tmp_path):
    (tmp_path / "parts/x/taken").mkdir(parents=True)  # a folder where a file is due: its rename fails
    with pytest.raises(IsADirectoryError):
        _write_many(tmp_path, ["parts/x/a", "parts/x/taken", "parts/x/c"])
    assert [p for p in tmp_path.rglob("*.tmp")] == []


def test_an_error_in_the_block_stops_the_writes_and_is_raised(tmp_path):
    with pytest.raises(RuntimeError, match="encoding failed"):
        _write_many(tmp_path, ["parts/x/a"], then=RuntimeError("encoding failed"))
    assert [p for p in tmp_path.rglob("*.tmp")] == []
