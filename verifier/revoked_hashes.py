"""The revoked DCC hashes a verifier holds, loaded from partitions, and the exact lookup of a
code's hashes in them.

In memory, the partitions of one country under one kid (a group) become one ``_Table``: per hash
type, one bytes buffer of the sorted 16-byte records and an index of where each value of the
records' leading bits starts, sized to the run (2 to 4 records per value, at most 16 bits: half
a byte to a byte per hash, up to two in a run of 2**16 to 2**18 records, whose index is u32).
That costs 16 to 17 bytes per hash; a Python object per hash would cost 60 to 100
(docs/revocation-distribution.md has the measurements). A lookup is exact: the index narrows to
a few records whatever the run's size, then a C search (``bytes.find``) in those, aligned to
record boundaries. A hash matches only if all its 16 bytes are listed: nothing
probabilistic can show a valid code as revoked.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import chain, cycle, repeat
from typing import NamedTuple

from verifier.reasons import PartitionError, PartitionReason
from verifier.revocation_hashes import HASH_SIZE, CodeHash
from verifier.revocation_partition import (
    RECORD_SIZE,
    TYPES,
    UNKNOWN_KID,
    Kid,
    Partition,
    check_group,
    parse_partition,
)
from verifier.trust import kid_text

# Below this many records, one bytes.find (C, memchr-based) beats more Python bisection steps:
# measured 0.3 µs for a 40-record run against 0.8 µs for bisection to the end. The index keeps
# buckets below it unless the hashes are far from uniform (they are SHA-256).
_SCAN = 32
# The index of a run has a bucket per value of the records' first ``bits`` bits, the fewest bits
# (at most 16) that keep the average bucket under this many records. With the first byte alone,
# a lookup slowed from 0.6 µs (13 records a bucket, 10 M hashes over 1,000 kids) to 2.6 µs
# (UNKNOWN_KID's 1,000 a bucket at 80 M): the bisection steps are Python. Small buckets matter
# beyond that: at 10 M the records are far larger than the CPU's caches, and each 64-byte line a
# lookup scans is a miss; a code's six lookups took 5.9 µs with 16 records a bucket, 5.4 with 8,
# 4.5 with 4 (the index then costs 0.5 to 1 byte per hash, in u16 while a run has fewer than
# 65,536 records).
_BUCKET = 4
_MAX_BITS = 16


class Match(NamedTuple):
    country: str  # the country whose list holds the hash
    kid: Kid  # the DSC's kid, or UNKNOWN_KID
    code_hash: CodeHash

    def describe(self) -> str:
        listed = f"kid {kid_text(self.kid)}" if isinstance(self.kid, bytes) else UNKNOWN_KID
        return (
            f"revoked by {self.country}: the {self.code_hash.hash_type.name} hash of {self.code_hash.source}"
            f" ({self.code_hash.digest.hex()}) is listed under {listed}"
        )


class _Table:
    """One country's revoked hashes under one kid, or several countries' merged."""

    __slots__ = ("country", "names", "owners", "records", "runs")

    def __init__(
        self,
        country: str,
        runs: Sequence[bytes],
        owners: Sequence[array[int]] | None = None,
        names: Sequence[str] = (),
    ) -> None:
        """``runs``: per hash type, the sorted records. A table merged from several countries'
        has ``owners``: per type, per record, which of ``names`` (e.g. "DE and FR") lists it."""
        self.country = country
        self.records = tuple(runs)
        self.owners = None if owners is None else tuple(owners)
        self.names = tuple(names)
        # Per type, what a lookup needs in one tuple (one subscript, not three): how far to shift
        # a hash's first two bytes to get its bucket, where each bucket starts (2**bits + 1
        # record numbers), and the records.
        self.runs = tuple((*_prefix_index(run), run) for run in self.records)

    @classmethod
    def of(cls, country: str, partitions: Sequence[Partition]) -> _Table:
        """``partitions``: a whole group, in byte order (``check_group``). Their runs (views of
        the files) are joined once per type: the files can go as soon as this returns."""
        return cls(country, [b"".join([p.runs[t] for p in partitions]) for t in range(len(TYPES))])

    @classmethod
    def merged(cls, tables: Sequence[_Table]) -> _Table:
        """One table of the hashes of several (``tables`` in country order), each hash once with
        the countries that list it: one byte or two per hash, where keeping the countries' own
        tables to name them would take all their 16 again. Merged one first byte at a time, so
        only that slice's records are ever Python objects."""
        names: dict[int, int] = {}  # a set of countries (bit i: tables[i]) -> its number in ``names``
        runs, owners = [], []
        for t in range(len(TYPES)):
            sources = [(other.records[t], _first_byte_starts(other.records[t])) for other in tables]
            chunks, numbers = [], []
            for first in range(256):
                listed: dict[bytes, int] = {}
                for bit, (run, starts) in enumerate(sources):
                    for i in range(starts[first] * RECORD_SIZE, starts[first + 1] * RECORD_SIZE, RECORD_SIZE):
                        record = run[i : i + RECORD_SIZE]
                        listed[record] = listed.get(record, 0) | 1 << bit
                ordered = sorted(listed)
                chunks.append(b"".join(ordered))
                numbers.extend(names.setdefault(listed[record], len(names)) for record in ordered)
            runs.append(b"".join(chunks))
            owners.append(numbers)
        typecode = "B" if len(names) <= 1 << 8 else "H" if len(names) <= 1 << 16 else "I"
        countries = [" and ".join(t.country for bit, t in enumerate(tables) if mask >> bit & 1) for mask in names]
        return cls("", runs, [array(typecode, numbers) for numbers in owners], countries)

    def __len__(self) -> int:
        return sum(len(run) for run in self.records) // RECORD_SIZE

    def country_at(self, type_index: int, position: int) -> str:
        """The country (or countries, "DE and FR") listing record ``position`` of a type's run."""
        return self.country if self.owners is None else self.names[self.owners[type_index][position]]

    def find(self, type_index: int, digest: bytes) -> int:
        """The number of the record ``digest`` (16 bytes) in its type's run, or -1."""
        shift, starts, records = self.runs[type_index]
        bucket = (digest[0] << 8 | digest[1]) >> shift
        lo = starts[bucket]
        hi = starts[bucket + 1]
        if lo == hi:
            return -1
        # Narrow [lo, hi) to the few records that can hold the digest, then let C scan them.
        while hi - lo > _SCAN:
            mid = (lo + hi) >> 1
            start = mid * RECORD_SIZE
            if records[start : start + RECORD_SIZE] < digest:
                lo = mid + 1
            else:
                hi = mid + 1  # digest <= record mid: it is at mid or before
        end = hi * RECORD_SIZE
        found = records.find(digest, lo * RECORD_SIZE, end)
        while found != -1:
            if found % RECORD_SIZE == 0:  # a whole record, not the tail of one and head of the next
                return found // RECORD_SIZE
            found = records.find(digest, found + 1, end)
        return -1


def _prefix_index(run: bytes) -> tuple[int, array[int]]:
    """(shift, starts) of a run: record ``starts[b]`` is the first whose first two bytes, shifted
    right by ``shift``, are ``b`` or more; ``starts[-1]`` is the count."""
    count = len(run) // RECORD_SIZE
    bits = min(_MAX_BITS, (count // _BUCKET).bit_length())
    # Bisections of the records' first bytes, then of their second bytes, each sliced in C; the
    # calls are made by map, not a Python loop: building the index would otherwise take more
    # than reading and checking the records. Bisecting a bytes compares small ints, which
    # Python does not allocate (a u16 array's would be: 1.7x the time).
    firsts = run[::RECORD_SIZE]
    if bits <= 8:
        starts = list(map(bisect_left, repeat(firsts), range(0, 256, 1 << (8 - bits))))
    else:
        # Within one first byte the second bytes are sorted: bisect them in that byte's records.
        per_first = 1 << (bits - 8)
        bounds = list(map(bisect_left, repeat(firsts), range(257)))  # where each first byte starts
        lows = chain.from_iterable(map(repeat, bounds[:-1], repeat(per_first)))
        highs = chain.from_iterable(map(repeat, bounds[1:], repeat(per_first)))
        values = cycle(range(0, 256, 1 << (16 - bits)))
        starts = list(map(bisect_left, repeat(run[1::RECORD_SIZE]), values, lows, highs))
    starts.append(count)
    return 16 - bits, array("H" if count < 1 << 16 else "I", starts)


def _first_byte_starts(run: bytes) -> array[int]:
    firsts = run[::RECORD_SIZE]
    return array("I", [bisect_left(firsts, value) for value in range(256)] + [len(firsts)])


class RevokedHashes:
    """Every revoked DCC hash held, by kid and country. Read-only once built, so one instance
    serves every thread; after loading new partitions, build a new one and swap the reference.

    A kid listed by several countries (UNKNOWN_KID, in practice) is looked up in one table of
    all their hashes, so that each further country does not cost a search per hash; that table
    names, per hash, the countries that list it."""

    __slots__ = ("_tables",)

    def __init__(self, tables: dict[Kid, list[_Table]]) -> None:
        """``tables``: per kid, its countries' tables in country order."""
        self._tables = {kid: found[0] if len(found) == 1 else _Table.merged(found) for kid, found in tables.items()}

    @classmethod
    def from_groups(cls, groups: Iterable[Sequence[Partition | bytes]]) -> RevokedHashes:
        """Load groups, each the partition files (parsed, or to parse) of one country and kid in
        byte order; each group is indexed as it comes, so only one group's files need be held at
        once. Raises PartitionError for a malformed file or group, PARTITION_CONFLICT for a
        country and kid twice."""
        tables: dict[Kid, list[_Table]] = {}
        seen: set[tuple[Kid, str]] = set()
        for files in groups:
            partitions = [parse_partition(item) if isinstance(item, bytes) else item for item in files]
            if not partitions:
                continue
            check_group(partitions)
            key = (partitions[0].kid, partitions[0].country)
            if key in seen:
                raise PartitionError(
                    PartitionReason.PARTITION_CONFLICT, f"two groups of {key[1]} under {_kid_name(key[0])}"
                )
            seen.add(key)
            table = _Table.of(key[1], partitions)
            # The group's files (which the partitions' runs view) go now, not when the next
            # group is bound to these names: that would hold two groups' files at once.
            del files, partitions
            if len(table):  # a kid whose partitions are all empty costs nothing at lookup
                tables.setdefault(key[0], []).append(table)
        for found in tables.values():
            found.sort(key=lambda table: table.country)
        return cls(tables)

    @classmethod
    def from_partitions(cls, partitions: Iterable[Partition | bytes]) -> RevokedHashes:
        """Load partition files of any groups in any order (grouped and ordered here)."""
        grouped: dict[tuple[Kid, str], list[Partition]] = {}
        for item in partitions:
            partition = parse_partition(item) if isinstance(item, bytes) else item
            grouped.setdefault((partition.kid, partition.country), []).append(partition)
        return cls.from_groups(sorted(found, key=lambda p: p.low) for found in grouped.values())

    def __len__(self) -> int:
        """Hashes held (one listed by two countries under one kid counts once)."""
        return sum(len(table) for table in self._tables.values())

    def kids(self) -> list[Kid]:
        return list(self._tables)

    def lists(self, kid: bytes | None) -> bool:
        """True if anything is listed under ``kid`` or UNKNOWN_KID: otherwise no hash of a code
        signed with that kid can match, and computing them is wasted."""
        return kid in self._tables or UNKNOWN_KID in self._tables

    def match(self, kid: bytes | None, hashes: Sequence[CodeHash]) -> Match | None:
        """The first listing of one of ``hashes`` under ``kid`` or UNKNOWN_KID (the apps' order:
        UCI, COUNTRYCODEUCI, SIGNATURE), or None."""
        tables = self._tables
        for listed in (kid, UNKNOWN_KID):
            table = tables.get(listed) if listed is not None else None
            if table is None:
                continue
            for code_hash in hashes:
                digest = code_hash.digest
                if len(digest) == HASH_SIZE:
                    position = table.find(code_hash.hash_type, digest)
                    if position >= 0:
                        return Match(table.country_at(code_hash.hash_type, position), listed, code_hash)
        return None


EMPTY = RevokedHashes({})


def _kid_name(kid: Kid) -> str:
    return kid if isinstance(kid, str) else f"kid {kid_text(kid)}"
