"""The revoked DCC hashes a verifier holds, loaded from partitions, and the exact lookup of a
code's hashes in them.

In memory, the partitions of one country under one kid become one ``_Table``: a single bytes
buffer of 15-byte records ordered by first byte, then hash type, then value, and the record
index where each (first byte, hash type) run starts. That costs 15 bytes per hash plus about
3 KB per table; a Python object per hash would cost 60 to 90 (docs/revocation-distribution.md
has the measurements). A lookup is exact: binary search down to a few records, then a C search
(``bytes.find``) in those, aligned to record boundaries. A hash matches only if all its 16 bytes
are listed: nothing probabilistic can show a valid code as revoked.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from verifier.reasons import PartitionError, PartitionReason
from verifier.revocation_hashes import HASH_SIZE, CodeHash
from verifier.revocation_partition import RECORD_SIZE, TYPES, UNKNOWN_KID, Kid, Partition, parse_partition
from verifier.trust import kid_text

_SLOTS = 256 * len(TYPES)
_NO_RUNS = (b"",) * len(TYPES)
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
    """One country's revoked hashes under one kid."""

    __slots__ = ("bounds", "country", "records")

    def __init__(self, country: str, runs: Sequence[bytes]) -> None:
        """``runs``: the records of each slot, by first byte then hash type; ``country`` is ""
        for a table merged from several countries'."""
        self.country = country
        bounds = array("I", [0])
        total = 0
        for run in runs:
            total += len(run) // RECORD_SIZE
            bounds.append(total)
        self.records = b"".join(runs)
        self.bounds = bounds

    @classmethod
    def of(cls, country: str, partitions: Sequence[Partition | None]) -> _Table:
        """``partitions``: 256, by first byte, None where there is none."""
        return cls(country, [run for p in partitions for run in (p.runs if p is not None else _NO_RUNS)])

    @classmethod
    def merged(cls, tables: Sequence[_Table]) -> _Table:
        """One table of the hashes of several (each once, each run sorted again)."""
        runs = []
        for slot in range(_SLOTS):
            records = set()
            for other in tables:
                start, end = other.bounds[slot] * RECORD_SIZE, other.bounds[slot + 1] * RECORD_SIZE
                records.update(other.records[i : i + RECORD_SIZE] for i in range(start, end, RECORD_SIZE))
            runs.append(b"".join(sorted(records)))
        return cls("", runs)

    def __len__(self) -> int:
        return self.bounds[-1]

    def contains(self, type_index: int, digest: bytes) -> bool:
        slot = digest[0] * 3 + type_index
        bounds = self.bounds
        lo = bounds[slot]
        hi = bounds[slot + 1]
        if lo == hi:
            return False
        key = digest[1:]
        records = self.records
        # Narrow [lo, hi) to the few records that can hold key, then let C scan them.
        while hi - lo > _SCAN:
            mid = (lo + hi) >> 1
            start = mid * RECORD_SIZE
            if records[start : start + RECORD_SIZE] < key:
                lo = mid + 1
            else:
                hi = mid + 1  # key <= record mid: it is at mid or before
        start = lo * RECORD_SIZE
        end = hi * RECORD_SIZE
        found = records.find(key, start, end)
        while found != -1:
            if (found - start) % RECORD_SIZE == 0:  # a whole record, not the tail of one and head of the next
                return True
            found = records.find(key, found + 1, end)
        return False


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
    def from_partitions(cls, partitions: Iterable[Partition | bytes]) -> RevokedHashes:
        """Load partitions (parsed, or files to parse). Raises PartitionError for a malformed
        file, and PARTITION_CONFLICT for two of one country, kid and first byte."""
        grouped: dict[tuple[Kid, str], list[Partition | None]] = {}
        for item in partitions:
            partition = parse_partition(item) if isinstance(item, bytes) else item
            slots = grouped.setdefault((partition.kid, partition.country), [None] * 256)
            if slots[partition.first_byte] is not None:
                kid = partition.kid if isinstance(partition.kid, str) else kid_text(partition.kid)
                raise PartitionError(
                    PartitionReason.PARTITION_CONFLICT,
                    f"two partitions {partition.first_byte:02x} of {partition.country} under {kid}",
                )
            slots[partition.first_byte] = partition
        tables: dict[Kid, list[_Table]] = {}
        for (kid, country), slots in sorted(grouped.items(), key=lambda item: item[0][1]):
            table = _Table.of(country, slots)
            if len(table):  # a kid whose partitions are all empty costs nothing at lookup
                tables.setdefault(kid, []).append(table)
        return cls(tables)

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
