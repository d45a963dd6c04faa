"""Revoked DCC hashes as publication content: partitioned content (``publication.providers``)
whose groups are the hashes of one country under one kid, each published as the partition files
of ``verifier.revocation_partition`` (docs/revocation-distribution.md).

Only batches not deleted have hashes (a deletion, and the cleanup's expiry, remove them in the
same transaction that records the change with its group's scope), so a group is read from the
hashes table alone, without a clock: the same rows always give the same files.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Collection, Iterator
from typing import Any

from revocation.models import RevocationHash
from revocation.scopes import scope_of
from revocation.services import BATCH_CHANGE
from verifier.revocation_hashes import HashType
from verifier.revocation_partition import MAGIC, UNKNOWN_KID, Kid, encode_group
from verifier.revocation_parts import REVOCATION_ARTIFACT

_READ_CHUNK = 20_000


class RevokedHashesContent:
    name = REVOCATION_ARTIFACT
    change_kinds = frozenset({BATCH_CHANGE})
    format = MAGIC.decode("ascii")

    def groups(self, scopes: Collection[str] | None) -> Iterator[tuple[str, dict[str, Any], list[bytes]]]:
        if scopes is None:
            rows = RevocationHash.objects.order_by("batch__country", "kid")
            yield from self._groups(rows)
            return
        for scope in sorted(scopes):
            country, _, kid = scope.partition(" ")
            rows = RevocationHash.objects.filter(batch__country=country, kid=kid)
            found = list(self._groups(rows))
            yield found[0] if found else (scope, {}, [])

    def _groups(self, rows: Any) -> Iterator[tuple[str, dict[str, Any], list[bytes]]]:
        values = rows.values_list("batch__country", "kid", "hash_type", "hash").iterator(chunk_size=_READ_CHUNK)
        for (country, kid), members in itertools.groupby(values, key=lambda row: (row[0], row[1])):
            hashes = {(HashType[hash_type], bytes(digest)) for _, _, hash_type, digest in members}
            files = encode_group(country, _kid(kid), hashes)
            yield scope_of(country, kid), {"country": country, "kid": kid, "hashes": len(hashes)}, files


def _kid(kid: str) -> Kid:
    return UNKNOWN_KID if kid == UNKNOWN_KID else base64.b64decode(kid)
