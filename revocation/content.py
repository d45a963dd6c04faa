"""Revoked DCC hashes as publication content: partitioned content (``publication.providers``)
whose groups are the hashes of one country under one kid, each published as the partition files
of ``verifier.revocation_partition`` (docs/revocation-distribution.md).

Only batches not deleted have hashes (a deletion, and the cleanup's expiry, remove them in the
same transaction that records the change with its group's scope), so a group is read from the
hashes table alone, without a clock: the same rows always give the same files.

A group is read with one query that leaves the database to deduplicate and order its hashes, on
a plain cursor (no model instance or ORM tuple per hash), and encoded from those sorted runs: at
10 million hashes the publisher's full build reads and encodes about 10,000 rows a group, 1,003
groups one after another, instead of sorting every row of the table at once and holding a set of
each group's hashes in Python (docs/revocation-distribution.md, "Publishing at scale").
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Iterator
from typing import Any

from django.db import connection

from revocation.models import RevocationBatch, RevocationHash
from revocation.scopes import scope_of
from revocation.services import BATCH_CHANGE
from verifier.revocation_hashes import HashType
from verifier.revocation_partition import MAGIC, UNKNOWN_KID, Kid, encode_sorted_group
from verifier.revocation_parts import REVOCATION_ARTIFACT

_HASHES = RevocationHash._meta.db_table  # noqa: SLF001 - the model's own table name, for raw SQL
_BATCHES = RevocationBatch._meta.db_table  # noqa: SLF001

# Every group that has hashes: the batches that still have some (a hash row's kid is its batch's:
# revocation.services copies it), probed through the index on the hashes' batch, so listing the
# groups costs one probe per batch, not a scan of the hashes.
_GROUPS_SQL = f"""
    SELECT DISTINCT b.country, b.kid FROM {_BATCHES} b
    WHERE EXISTS (SELECT 1 FROM {_HASHES} h WHERE h.batch_id = b.id)
    ORDER BY b.country, b.kid
"""  # noqa: S608 - table names from the models, values as parameters
# Ordered by the hash first: bytea compares byte by byte, and the hash type (text, compared
# under the database's collation) only breaks the ties of a hash listed as two types; measured,
# a third less of PostgreSQL's time than ordering by the type first.
_GROUP_SQL = f"""
    SELECT DISTINCT h.hash, h.hash_type FROM {_HASHES} h JOIN {_BATCHES} b ON b.id = h.batch_id
    WHERE b.country = %s AND h.kid = %s
    ORDER BY h.hash, h.hash_type
"""  # noqa: S608


class RevokedHashesContent:
    name = REVOCATION_ARTIFACT
    change_kinds = frozenset({BATCH_CHANGE})
    format = MAGIC.decode("ascii")

    def groups(self, scopes: Collection[str] | None) -> Iterator[tuple[str, dict[str, Any], list[bytes]]]:
        if scopes is None:
            with connection.cursor() as cursor:
                cursor.execute(_GROUPS_SQL)
                keys = [(country, kid) for country, kid in cursor.fetchall()]
        else:
            keys = [_split(scope) for scope in sorted(scopes)]
        for country, kid in keys:
            runs = _read_group(country, kid)
            hashes = sum(map(len, runs.values()))
            if not hashes:
                yield scope_of(country, kid), {}, []
                continue
            files = encode_sorted_group(country, _kid(kid), runs)
            yield scope_of(country, kid), {"country": country, "kid": kid, "hashes": hashes}, files


def _split(scope: str) -> tuple[str, str]:
    country, _, kid = scope.partition(" ")
    return country, kid


def _read_group(country: str, kid: str) -> dict[HashType, list[bytes]]:
    """The group's distinct hashes, by hash type, each run in ascending byte order (bytea and
    BLOB compare byte by byte, as Python's bytes do)."""
    with connection.cursor() as cursor:
        cursor.execute(_GROUP_SQL, [country, kid])
        rows = cursor.fetchall()
    runs: dict[str, list[bytes]] = {}
    for digest, hash_type in rows:  # in hash order: each type's run comes out in order too
        run = runs.get(hash_type)
        if run is None:
            run = runs[hash_type] = []
        run.append(bytes(digest))
    return {HashType[hash_type]: run for hash_type, run in runs.items()}


def _kid(kid: str) -> Kid:
    return UNKNOWN_KID if kid == UNKNOWN_KID else base64.b64decode(kid)
