"""One partition of revoked DCC hashes: the file format, its writer and its strict parser.

A partition holds the hashes one country revoked under one kid (a DSC's kid, or ``UNKNOWN_KID``
for codes whose DSC the country did not name) whose first byte is one value. The first byte is
in the header, so each record is the remaining 15 bytes. Layout (big-endian, no padding):

======== ====== =============================================================================
offset   size   field
======== ====== =============================================================================
0        4      magic ``DRH1`` (DCC revoked hashes, format 1)
4        1      the first byte of every hash in the partition
5        2      country that revoked them, ASCII capitals
7        1      kid length L; 0 means ``UNKNOWN_KID``
8        L      kid
8+L      12     three u32 counts: UCI, COUNTRYCODEUCI, SIGNATURE records
20+L     15·n   the records: the UCI run, then COUNTRYCODEUCI, then SIGNATURE, each run in
                strictly ascending byte order
======== ====== =============================================================================

docs/revocation-distribution.md says why this shape (the measurements). The parser refuses
anything else by name (``PartitionError``), never with another exception.
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Iterable, Mapping
from typing import Final, NamedTuple

from verifier.reasons import PartitionError, PartitionReason
from verifier.revocation_hashes import HASH_SIZE, HashType

# The gateway's name for hashes revoked without a DSC: a str, so that no kid (bytes) equals it.
UNKNOWN_KID: Final = "UNKNOWN_KID"
Kid = bytes | str  # a DSC's kid, or UNKNOWN_KID

MAGIC = b"DRH1"
RECORD_SIZE = HASH_SIZE - 1  # the first byte is the partition's
_COUNTS = struct.Struct(">III")
_FIXED = len(MAGIC) + 1 + 2 + 1  # up to the kid
HEADER_SIZE = _FIXED + _COUNTS.size  # plus the kid
TYPES = tuple(HashType)  # the runs, in order


class Partition(NamedTuple):
    country: str
    kid: Kid
    first_byte: int
    runs: tuple[bytes, ...]  # per HashType (in TYPES order): the records, concatenated

    def count(self) -> int:
        return sum(len(run) for run in self.runs) // RECORD_SIZE


def _records(run: bytes) -> list[bytes]:
    return [run[start : start + RECORD_SIZE] for start in range(0, len(run), RECORD_SIZE)]


def _check_country(country: object) -> str:
    if not (isinstance(country, str) and len(country) == 2 and country.isascii() and country.isupper()):
        raise PartitionError(PartitionReason.PARTITION_BAD_COUNTRY, f"country {country!r} is not two ASCII capitals")
    return country


def encode_partition(country: str, kid: Kid, first_byte: int, hashes: Mapping[HashType, Iterable[bytes]]) -> bytes:
    """The file of one partition: ``hashes`` are full 16-byte hashes starting with ``first_byte``
    (sorted and deduplicated here). An empty partition is valid: it replaces one that held some."""
    _check_country(country)
    kid_bytes = b"" if kid == UNKNOWN_KID else kid
    if not isinstance(kid_bytes, bytes) or not (kid == UNKNOWN_KID or 0 < len(kid_bytes) < 256):
        raise ValueError(f"a kid is 1 to 255 bytes, or UNKNOWN_KID, not {kid!r}")
    runs = []
    for hash_type in TYPES:
        suffixes = set()
        for digest in hashes.get(hash_type, ()):
            if len(digest) != HASH_SIZE or digest[0] != first_byte:
                raise ValueError(f"{digest.hex()} is not a {HASH_SIZE}-byte hash starting with {first_byte:02x}")
            suffixes.add(digest[1:])
        runs.append(sorted(suffixes))
    header = MAGIC + bytes((first_byte,)) + country.encode("ascii") + bytes((len(kid_bytes),)) + kid_bytes
    return b"".join([header, _COUNTS.pack(*map(len, runs)), *(b"".join(run) for run in runs)])


def encode_partitions(country: str, kid: Kid, hashes: Iterable[tuple[HashType, bytes]]) -> dict[int, bytes]:
    """The files of every partition that ``hashes`` touch, by first byte (only those: a change
    rewrites the partitions it touches and no other)."""
    grouped: dict[int, dict[HashType, list[bytes]]] = {}
    for hash_type, digest in hashes:
        grouped.setdefault(digest[0], {}).setdefault(hash_type, []).append(digest)
    return {first: encode_partition(country, kid, first, runs) for first, runs in sorted(grouped.items())}


def parse_partition(data: bytes) -> Partition:
    """The partition in ``data``, checked: magic, country, lengths, every run strictly ascending.
    Raises PartitionError."""
    if len(data) < _FIXED:
        raise PartitionError(PartitionReason.PARTITION_TRUNCATED, f"{len(data)} bytes, shorter than a header")
    if data[:4] != MAGIC:
        raise PartitionError(PartitionReason.PARTITION_BAD_MAGIC, f"starts with {data[:4]!r}, not {MAGIC!r}")
    first_byte = data[4]
    country = _check_country(data[5:7].decode("latin-1"))
    kid_length = data[7]
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
    start = counts_end
    for hash_type, count in zip(TYPES, counts, strict=True):
        run = data[start : start + count * RECORD_SIZE]
        start += count * RECORD_SIZE
        records = _records(run)
        # map(operator.lt) compares in C: about 10x faster than a Python loop over 10 million records.
        if not all(map(operator.lt, records, records[1:])):
            position = next(i for i in range(1, len(records)) if records[i - 1] >= records[i])
            reason = (
                PartitionReason.PARTITION_DUPLICATE
                if records[position - 1] == records[position]
                else PartitionReason.PARTITION_UNSORTED
            )
            raise PartitionError(reason, f"{hash_type.name} record {position} of the partition {first_byte:02x}")
        runs.append(run)
    return Partition(country, kid, first_byte, tuple(runs))
