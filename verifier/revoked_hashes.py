"""The revoked DCC hashes a verifier holds, loaded from partitions, and the exact lookup of a
code's hashes in them.

In memory, the partitions of one country under one kid (a group) become one ``_Table``: per hash
type, one bytes buffer of the sorted 16-byte records and the record index where each first byte
starts. That costs 16 bytes per hash plus about 3 KB per table; a Python object per hash would
cost 60 to 90 (docs/revocation-distribution.md has the measurements). A lookup is exact: binary
search down to a few records, then a C search (``bytes.find``) in those, aligned to record
boundaries. A hash matches only if all its 16 bytes are listed: nothing probabilistic can show a
valid code as revoked.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
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
# measured 0.3 µs for a 40-record run against 0.8 µs for bisection to the end.
_SCAN = 32


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
    """One country's revoked hashes under one kid (or several countries', merged)."""

    __slots__ = ("country", "records", "starts")

    def __init__(self, country: str, runs: Sequence[bytes]) -> None:
        """``runs``: per hash type, the sorted records; ``country`` is "" for a table merged
        from several countries'."""
        self.country = country
        self.records = tuple(runs)
        # Where the records of each first byte start in each run: 257 offsets per type. The
        # first bytes of a run, sliced in C, are sorted, so bisect (in C) finds each boundary.
        self.starts = tuple(_first_byte_starts(run) for run in self.records)

    @classmethod
    def of(cls, country: str, partitions: Sequence[Partition]) -> _Table:
        """``partitions``: a whole group, in byte order (``check_group``)."""
        return cls(country, [b"".join(p.runs[t] for p in partitions) for t in range(len(TYPES))])

    @classmethod
    def merged(cls, tables: Sequence[_Table]) -> _Table:
        """One table of the hashes of several (each once, each run sorted again)."""
        runs = []
        for t in range(len(TYPES)):
            records = set()
            for other in tables:
                run = other.records[t]
                records.update(run[i : i + RECORD_SIZE] for i in range(0, len(run), RECORD_SIZE))
            runs.append(b"".join(sorted(records)))
        return cls("", runs)

    def __len__(self) -> int:
        return sum(len(run) for run in self.records) // RECORD_SIZE

    def contains(self, type_index: int, digest: bytes) -> bool:
        starts = self.starts[type_index]
        first = digest[0]
        lo = starts[first]
        hi = starts[first + 1]
        if lo == hi:
            return False
        records = self.records[type_index]
        # Narrow [lo, hi) to the few records that can hold the digest, then let C scan them.
        while hi - lo > _SCAN:
            mid = (lo + hi) >> 1
            start = mid * RECORD_SIZE
            if records[start : start + RECORD_SIZE] < digest:
                lo = mid + 1
            else:
                hi = mid + 1  # digest <= record mid: it is at mid or before
        start = lo * RECORD_SIZE
        end = hi * RECORD_SIZE
        found = records.find(digest, start, end)
        while found != -1:
            if (found - start) % RECORD_SIZE == 0:  # a whole record, not the tail of one and head of the next
                return True
            found = records.find(digest, found + 1, end)
        return False


def _first_byte_starts(run: bytes) -> array[int]:
    firsts = run[::RECORD_SIZE]
    return array("I", [bisect_left(firsts, value) for value in range(256)] + [len(firsts)])


class RevokedHashes:
    """Every revoked DCC hash held, by kid and country. Read-only once built, so one instance
    serves every thread; after loading new partitions, build a new one and swap the reference.

    A kid listed by several countries (UNKNOWN_KID, in practice) is looked up in one table of
    all their hashes, so that each further country does not cost a search per hash; the
    countries' own tables are kept only to say which listed a hash that matched."""

    __slots__ = ("_by_country", "_tables")

    def __init__(self, tables: dict[Kid, list[_Table]]) -> None:
        self._by_country = {kid: tuple(found) for kid, found in tables.items() if len(found) > 1}
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
                if len(digest) == HASH_SIZE and table.contains(code_hash.hash_type, digest):
                    return Match(self._country(listed, code_hash) or table.country, listed, code_hash)
        return None

    def _country(self, kid: Kid, code_hash: CodeHash) -> str:
        """Which countries list a hash found in a merged table (the rare path: a match)."""
        countries = self._by_country.get(kid, ())
        found = [table.country for table in countries if table.contains(code_hash.hash_type, code_hash.digest)]
        return " and ".join(found)


EMPTY = RevokedHashes({})


def _kid_name(kid: Kid) -> str:
    return kid if isinstance(kid, str) else f"kid {kid_text(kid)}"
