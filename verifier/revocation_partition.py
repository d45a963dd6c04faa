"""One partition of revoked DCC hashes: the file format, the one rule that splits a group into
partitions, the writer and the strict parser.

A *group* is the hashes one country revoked under one kid (a DSC's kid, or ``UNKNOWN_KID`` for
codes whose DSC the country did not name). It is published as 1 to 256 partition files, each
holding the hashes whose first byte lies in one range; the ranges of a group tile 0x00..0xFF
(:func:`byte_ranges`). Layout of a file (big-endian, no padding):

======== ====== =============================================================================
offset   size   field
======== ====== =============================================================================
0        4      magic ``DRH2`` (DCC revoked hashes, format 2)
4        1      the lowest first byte of the range
5        1      the highest first byte of the range
6        2      country that revoked them, ASCII capitals
8        1      kid length L; 0 means ``UNKNOWN_KID``
9        L      kid
9+L      12     three u32 counts: UCI, COUNTRYCODEUCI, SIGNATURE records
21+L     16·n   the records (whole hashes): the UCI run, then COUNTRYCODEUCI, then SIGNATURE, each
                run in strictly ascending byte order, every first byte inside the range
======== ====== =============================================================================

docs/revocation-distribution.md says why this shape (the measurements). The parser refuses
anything else by name (``PartitionError``), never with another exception.
"""

from __future__ import annotations

import bisect
import operator
import struct
import sys
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, NamedTuple

from verifier.reasons import PartitionError, PartitionReason
from verifier.revocation_hashes import HASH_SIZE, HashType

# The gateway's name for hashes revoked without a DSC: a str, so that no kid (bytes) equals it.
UNKNOWN_KID: Final = "UNKNOWN_KID"
Kid = bytes | str  # a DSC's kid, or UNKNOWN_KID

MAGIC = b"DRH2"
RECORD_SIZE = HASH_SIZE
_COUNTS = struct.Struct(">III")
_FIXED = len(MAGIC) + 2 + 2 + 1  # up to the kid
HEADER_SIZE = _FIXED + _COUNTS.size  # plus the kid
TYPES = tuple(HashType)  # the runs, in order
# A group is split so that a partition holds about this many hashes at most (64 KiB of records):
# one revocation rewrites at most that much, and a group of a few hundred hashes is one file,
# not 256 files of one or two (docs/revocation-distribution.md).
PARTITION_TARGET = 4096
# The parser checks the order of at most this many records at once (see _check_run).
_CHECK_CHUNK = 4096


class Partition(NamedTuple):
    country: str
    kid: Kid
    low: int  # the range of first bytes, inclusive
    high: int
    # Per HashType (in TYPES order): the records, concatenated. A parsed partition's runs are
    # views of the file's bytes, not copies: loading joins them once per group and type.
    runs: tuple[bytes | memoryview, ...]

    def count(self) -> int:
        return sum(len(run) for run in self.runs) // RECORD_SIZE


def byte_ranges(count: int) -> list[tuple[int, int]]:
    """The partitions of a group of ``count`` hashes: the fewest powers of two of equal ranges of
    the first byte (at most 256) such that each holds PARTITION_TARGET hashes on average."""
    parts = 1
    while parts < 256 and count > parts * PARTITION_TARGET:
        parts *= 2
    width = 256 // parts
    return [(start, start + width - 1) for start in range(0, 256, width)]


def _check_country(country: object) -> str:
    if not (isinstance(country, str) and len(country) == 2 and country.isascii() and country.isupper()):
        raise PartitionError(PartitionReason.PARTITION_BAD_COUNTRY, f"country {country!r} is not two ASCII capitals")
    return country


def _kid_bytes(kid: Kid) -> bytes:
    kid_bytes = b"" if kid == UNKNOWN_KID else kid
    if not isinstance(kid_bytes, bytes) or not (kid == UNKNOWN_KID or 0 < len(kid_bytes) < 256):
        raise ValueError(f"a kid is 1 to 255 bytes, or UNKNOWN_KID, not {kid!r}")
    return kid_bytes


def encode_partition(country: str, kid: Kid, low: int, high: int, hashes: Mapping[HashType, Iterable[bytes]]) -> bytes:
    """The file of one partition: ``hashes`` are 16-byte hashes whose first byte is in
    ``low..high`` (sorted and deduplicated here). An empty partition is valid."""
    _check_country(country)
    kid_bytes = _kid_bytes(kid)
    if not 0 <= low <= high <= 255:
        raise ValueError(f"{low}..{high} is not a range of bytes")
    runs = []
    for hash_type in TYPES:
        unique = set(hashes.get(hash_type, ()))
        for digest in unique:
            if len(digest) != HASH_SIZE or not low <= digest[0] <= high:
                raise ValueError(f"{digest.hex()} is not a {HASH_SIZE}-byte hash starting in {low:02x}..{high:02x}")
        runs.append(sorted(unique))
    return b"".join([_header(country, kid_bytes, low, high), _COUNTS.pack(*map(len, runs)), *map(b"".join, runs)])


def _header(country: str, kid_bytes: bytes, low: int, high: int) -> bytes:
    return MAGIC + bytes((low, high)) + country.encode("ascii") + bytes((len(kid_bytes),)) + kid_bytes


def encode_group(country: str, kid: Kid, hashes: Iterable[tuple[HashType, bytes]]) -> list[bytes]:
    """Every partition file of a group, in byte order (:func:`byte_ranges` of its distinct
    hashes); none for a group without hashes."""
    unique = set(hashes)
    if not unique:
        return []
    ranges = byte_ranges(len(unique))
    width = ranges[0][1] + 1
    split: list[dict[HashType, list[bytes]]] = [{} for _ in ranges]
    for hash_type, digest in unique:
        if len(digest) != HASH_SIZE:
            raise ValueError(f"{digest.hex()} is not a {HASH_SIZE}-byte hash")
        split[digest[0] // width].setdefault(hash_type, []).append(digest)
    return [encode_partition(country, kid, low, high, runs) for (low, high), runs in zip(ranges, split, strict=True)]


def encode_sorted_group(country: str, kid: Kid, runs: Mapping[HashType, Sequence[bytes]]) -> list[bytes]:
    """The files :func:`encode_group` makes, from each hash type's hashes already distinct and in
    ascending order (as a database returns them with ``SELECT DISTINCT ... ORDER BY``): a
    publisher's full build of millions of hashes then costs no set, sort or check per hash in
    Python, only one comparison each in C to make sure of the order. Raises ValueError if a run is
    not strictly ascending or a hash is not HASH_SIZE bytes."""
    _check_country(country)
    kid_bytes = _kid_bytes(kid)
    ordered = [runs.get(hash_type, ()) for hash_type in TYPES]
    joined = []
    for hash_type, run in zip(TYPES, ordered, strict=True):
        if run and set(map(len, run)) != {HASH_SIZE}:  # map(len) in C too
            raise ValueError(f"a {hash_type.name} hash is not {HASH_SIZE} bytes")
        # map(operator.lt) compares in C; strictly ascending also means distinct.
        if not all(map(operator.lt, run, run[1:])):
            raise ValueError(f"the {hash_type.name} hashes are not distinct and in ascending order")
        joined.append(b"".join(run))
    count = sum(map(len, ordered))
    if not count:
        return []
    files = []
    for low, high in byte_ranges(count):
        # The records whose first byte is in low..high: a one-byte key sorts before every hash
        # that starts with that byte and after every hash that starts below it.
        starts = [bisect.bisect_left(run, bytes((low,))) for run in ordered]
        ends = [len(run) if high == 255 else bisect.bisect_left(run, bytes((high + 1,))) for run in ordered]
        pieces = [
            data[start * HASH_SIZE : end * HASH_SIZE] for data, start, end in zip(joined, starts, ends, strict=True)
        ]
        counts = [end - start for start, end in zip(starts, ends, strict=True)]
        files.append(b"".join([_header(country, kid_bytes, low, high), _COUNTS.pack(*counts), *pieces]))
    return files


def parse_partition(data: bytes) -> Partition:
    """The partition in ``data``, checked: magic, range, country, lengths, every run strictly
    ascending and inside the range. Raises PartitionError."""
    if len(data) < _FIXED:
        raise PartitionError(PartitionReason.PARTITION_TRUNCATED, f"{len(data)} bytes, shorter than a header")
    if data[:4] != MAGIC:
        raise PartitionError(PartitionReason.PARTITION_BAD_MAGIC, f"starts with {data[:4]!r}, not {MAGIC!r}")
    low, high = data[4], data[5]
    if low > high:
        raise PartitionError(PartitionReason.PARTITION_BAD_RANGE, f"the range {low:02x}..{high:02x} is empty")
    country = _check_country(data[6:8].decode("latin-1"))
    kid_length = data[8]
    counts_end = _FIXED + kid_length + _COUNTS.size
    if len(data) < counts_end:
        raise PartitionError(PartitionReason.PARTITION_TRUNCATED, f"{len(data)} bytes, shorter than its header")
    kid: Kid = data[_FIXED : _FIXED + kid_length] if kid_length else UNKNOWN_KID
    counts = _COUNTS.unpack_from(data, _FIXED + kid_length)
    expected = counts_end + sum(counts) * RECORD_SIZE
    if len(data) < expected:
        raise PartitionError(
            PartitionReason.PARTITION_TRUNCATED, f"{len(data)} bytes where the counts {counts} announce {expected}"
        )
    if len(data) > expected:
        raise PartitionError(PartitionReason.PARTITION_TRAILING_DATA, f"{len(data) - expected} bytes after the records")
    runs = []
    view = memoryview(data)
    start = counts_end
    for hash_type, count in zip(TYPES, counts, strict=True):
        end = start + count * RECORD_SIZE
        _check_run(data, start, end, hash_type, low, high)
        runs.append(view[start:end])
        start = end
    return Partition(country, kid, low, high, tuple(runs))


def _check_run(data: bytes, start: int, end: int, hash_type: HashType, low: int, high: int) -> None:
    """The records of ``data[start:end]`` in strictly ascending order, inside the range."""
    if start == end:
        return
    if not (low <= data[start] <= high and low <= data[end - RECORD_SIZE] <= high):
        raise PartitionError(
            PartitionReason.PARTITION_BAD_RANGE, f"a {hash_type.name} record outside {low:02x}..{high:02x}"
        )
    # A chunk of records at a time (chunks overlapping by one record): a 64 MiB part as one list
    # of records would take about 300 MB. First, in C, the first 8 bytes of each record as a
    # big-endian u64: strictly rising, they order the records (twice as fast as comparing the
    # records, which is left for a chunk where two are equal or fall, to say exactly).
    view = memoryview(data)
    step = _CHECK_CHUNK * RECORD_SIZE
    for chunk in range(start, end, step):
        stop = min(end, chunk + step + RECORD_SIZE)
        words = array("Q")
        words.frombytes(view[chunk:stop])
        if sys.byteorder == "little":
            words.byteswap()
        highs = words[::2]
        if all(map(operator.lt, highs, highs[1:])):
            continue
        records = [data[i : i + RECORD_SIZE] for i in range(chunk, stop, RECORD_SIZE)]
        if not all(map(operator.lt, records, records[1:])):
            break
    else:
        return

    def record(index: int) -> bytes:
        offset = start + index * RECORD_SIZE
        return data[offset : offset + RECORD_SIZE]

    # The rare path, a refusal: find where, and say whether it is a duplicate.
    position = next(i for i in range(1, (end - start) // RECORD_SIZE) if record(i - 1) >= record(i))
    duplicate = record(position - 1) == record(position)
    reason = PartitionReason.PARTITION_DUPLICATE if duplicate else PartitionReason.PARTITION_UNSORTED
    raise PartitionError(reason, f"{hash_type.name} record {position} of the partition {low:02x}..{high:02x}")


def check_group(partitions: Sequence[Partition]) -> None:
    """The partitions of one group as a publication lists them: one country and kid, ranges in
    ascending order that tile 0x00..0xFF (no hash can fall between two). Raises PartitionError."""
    expected = 0
    for partition in partitions:
        first = partitions[0]
        if (partition.country, partition.kid) != (first.country, first.kid):
            raise PartitionError(PartitionReason.PARTITION_CONFLICT, "partitions of two groups listed as one")
        if partition.low != expected:
            reason = PartitionReason.PARTITION_CONFLICT if partition.low < expected else PartitionReason.PARTITION_GAP
            raise PartitionError(reason, f"a partition starts at {partition.low:02x} where {expected:02x} was due")
        expected = partition.high + 1
    if expected != 256:
        raise PartitionError(PartitionReason.PARTITION_GAP, f"the partitions end before {expected:02x}..ff")
