"""The revoked hashes as publication content (revocation/content.py): each group's files are those
the reference encoder makes from the group's rows (one country's hashes under one kid, every hash
once whichever batches and hash types list it), whether every group is read or the groups of some
scopes; a scope without hashes is an empty group."""

from __future__ import annotations

import base64
import datetime as dt
import random

import pytest

from revocation.content import RevokedHashesContent
from revocation.models import RevocationBatch, RevocationHash
from revocation.scopes import scope_of
from tests.factory import NOW
from verifier.revocation_hashes import HashType
from verifier.revocation_partition import PARTITION_TARGET, UNKNOWN_KID, encode_group, parse_partition

pytestmark = pytest.mark.django_db
RNG = random.Random(19)
KID_A = base64.b64encode(b"\x01\x02\x03\x04\x05\x06\x07\x08").decode()
KID_SLASH = base64.b64encode(b"\xff\xff\xff\xff\xff\xff\xff\xff").decode()  # "//////////8=": a "/" in a scope


def _batch(country: str, kid: str, hash_type: str, hashes: list[bytes], *, deleted: bool = False) -> None:
    batch = RevocationBatch.objects.create(
        batch_id=f"{RNG.getrandbits(128):032x}",
        country=country,
        kid=kid,
        hash_type=hash_type,
        expires=NOW + dt.timedelta(days=30),
        created_at=NOW,
        changed=NOW,
        deleted=deleted,
        entry_count=max(len(hashes), 1),
        uploader_thumbprint="0" * 64,
    )
    RevocationHash.objects.bulk_create(
        RevocationHash(batch=batch, kid=kid, hash_type=hash_type, hash=digest) for digest in hashes
    )


def _reference(country: str, kid: str) -> list[bytes]:
    """The encoder the verifier's tests check, fed with every row of the group."""
    rows = RevocationHash.objects.filter(batch__country=country, kid=kid).values_list("hash_type", "hash")
    pairs = [(HashType[hash_type], bytes(digest)) for hash_type, digest in rows]
    return encode_group(country, UNKNOWN_KID if kid == UNKNOWN_KID else base64.b64decode(kid), pairs)


@pytest.fixture
def seeded() -> dict[str, int]:
    shared = [RNG.randbytes(16) for _ in range(50)]
    _batch("XA", KID_A, "UCI", [*shared, RNG.randbytes(16), b"\x00" * 16, b"\xff" * 16])
    _batch("XA", KID_A, "UCI", shared[:20])  # listed again by another batch: once in the files
    _batch("XA", KID_A, "SIGNATURE", shared[:10])  # the same bytes as another type: a record of each
    large = [RNG.randbytes(16) for _ in range(PARTITION_TARGET + 500)]  # two partitions
    for start in range(0, len(large), 1000):
        _batch("XB", KID_SLASH, "COUNTRYCODEUCI", large[start : start + 1000])
    _batch("XA", UNKNOWN_KID, "UCI", shared[:3])
    _batch("XB", UNKNOWN_KID, "SIGNATURE", shared[:4])  # UNKNOWN_KID of another country: its own group
    _batch("XC", "AAAAAAAAAAA=", "UCI", [], deleted=True)  # deleted: no hashes, no group
    return {
        scope_of("XA", KID_A): 50 + 3 + 10,
        scope_of("XB", KID_SLASH): len(large),
        scope_of("XA", UNKNOWN_KID): 3,
        scope_of("XB", UNKNOWN_KID): 4,
    }


def test_every_group_is_the_reference_encoders_files(seeded):
    groups = list(RevokedHashesContent().groups(None))
    assert sorted(scope for scope, _, _ in groups) == sorted(seeded)
    for scope, members, files in groups:
        country, _, kid = scope.partition(" ")
        assert members == {"country": country, "kid": kid, "hashes": seeded[scope]}
        assert files == _reference(country, kid)
    large = dict((scope, files) for scope, _, files in groups)[scope_of("XB", KID_SLASH)]
    assert [(p.low, p.high) for p in map(parse_partition, large)] == [(0x00, 0x7F), (0x80, 0xFF)]


def test_the_groups_of_some_scopes_and_an_empty_one(seeded):
    empty = scope_of("XC", "AAAAAAAAAAA=")
    asked = [scope_of("XB", KID_SLASH), scope_of("XA", UNKNOWN_KID), empty]
    groups = {scope: (members, files) for scope, members, files in RevokedHashesContent().groups(asked)}
    assert sorted(groups) == sorted(asked)
    assert groups[empty] == ({}, [])
    assert groups[scope_of("XB", KID_SLASH)][1] == _reference("XB", KID_SLASH)
    assert groups[scope_of("XA", UNKNOWN_KID)][0]["hashes"] == 3
    # A country's UNKNOWN_KID group holds its own hashes only, not another country's.
    assert groups[scope_of("XA", UNKNOWN_KID)][1] == _reference("XA", UNKNOWN_KID)
