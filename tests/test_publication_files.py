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
