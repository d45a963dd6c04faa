"""DCC revocation: the hashes of a code, the partition format, and the exact lookup.

The test vectors are those of the EU test case common/2DCode/raw/CO3.json (tests/data/dcc),
computed through the verifier's own decoding of its HC1 text.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import random
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from verifier import cose
from verifier.decode import decode_claims, hc1_to_cose
from verifier.hcert import verify_hc1
from verifier.reasons import PartitionError, PartitionReason, Reason, Status, Step
from verifier.revocation_hashes import HashType, code_hashes, revocation_hash, signature_hash, uci_hashes
from verifier.revocation_partition import (
    HEADER_SIZE,
    MAGIC,
    RECORD_SIZE,
    UNKNOWN_KID,
    encode_partition,
    encode_partitions,
    parse_partition,
)
from verifier.revoked_hashes import RevokedHashes
from verifier.trust import TrustStore

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

CO3 = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "dcc" / "common" / "2DCode" / "raw" / "CO3.json").read_text()
)
CO3_UCI = "4c0fe0260eb1a32503a9e1258744265c"
CO3_COUNTRYCODEUCI = "c858457924125662298b400d12210760"
CO3_SIGNATURE = "4dbe42362d0e86db18d8ec0995766381"
KID = bytes.fromhex("0011223344556677")


def co3_hashes():
    message = cose.parse(hc1_to_cose(CO3["PREFIX"]))
    claims = decode_claims(message.payload)
    return message, code_hashes(message.alg, message.signature, claims.issuer, claims.dcc, claims.payload_type)


def co3_verify(store: RevokedHashes | None):
    trust = TrustStore.from_certificates([base64.b64decode(CO3["TESTCTX"]["CERTIFICATE"])])
    clock = dt.datetime.fromisoformat(CO3["TESTCTX"]["VALIDATIONCLOCK"])
    return verify_hc1(CO3["PREFIX"], trust, clock, revoked_hashes=store)


def store_of(*files: bytes) -> RevokedHashes:
    return RevokedHashes.from_partitions(files)


def listed(store: RevokedHashes, hash_type: HashType, digest: bytes, kid=KID) -> bool:
    return store.match(kid, [signature_hash(None, b"")._replace(hash_type=hash_type, digest=digest)]) is not None


# --- the hashes of a code ----------------------------------------------------------------------


def test_co3_hashes_are_the_reference_vectors():
    message, hashes = co3_hashes()
    assert message.alg == cose.ES256
    assert [(h.hash_type, h.digest.hex()) for h in hashes] == [
        (HashType.UCI, CO3_UCI),
        (HashType.COUNTRYCODEUCI, CO3_COUNTRYCODEUCI),  # iss = co = AT: one hash
        (HashType.SIGNATURE, CO3_SIGNATURE),
    ]
    assert [h.source for h in hashes] == ["v[0].ci", "iss AT + v[0].ci", "signature (r)"]


@pytest.mark.parametrize(
    ("hash_type", "hex_digest"),
    [(HashType.UCI, CO3_UCI), (HashType.COUNTRYCODEUCI, CO3_COUNTRYCODEUCI), (HashType.SIGNATURE, CO3_SIGNATURE)],
)
@pytest.mark.parametrize("kid", ["dsc", UNKNOWN_KID])
def test_co3_is_revoked_through_verify_hc1_by_each_hash(hash_type, hex_digest, kid):
    assert co3_verify(None).valid
    assert co3_verify(RevokedHashes.from_partitions([])).valid
    dsc_kid = cose.parse(hc1_to_cose(CO3["PREFIX"])).kid if kid == "dsc" else kid
    store = RevokedHashes.from_partitions(
        encode_partitions("AT", dsc_kid, [(hash_type, bytes.fromhex(hex_digest))]).values()
    )
    result = co3_verify(store)
    outcome = result.step(Step.REVOCATION)
    assert outcome.status is Status.FAILED
    assert outcome.reason is Reason.DCC_REVOKED
    assert f"revoked by AT: the {hash_type.name} hash" in outcome.detail
    assert not result.valid


def test_both_country_codes_when_iss_and_co_differ():
    ci = "URN:UVCI:01:DE:ABC#1"
    dcc = {"v": [{"co": "DE", "ci": ci}]}
    hashes = uci_hashes("AT", dcc, "v")
    assert [(h.hash_type, h.digest, h.source) for h in hashes] == [
        (HashType.UCI, revocation_hash(ci.encode()), "v[0].ci"),
        (HashType.COUNTRYCODEUCI, revocation_hash(b"AT" + ci.encode()), "iss AT + v[0].ci"),
        (HashType.COUNTRYCODEUCI, revocation_hash(b"DE" + ci.encode()), "co DE + v[0].ci"),
    ]
    # No iss: the entry's co only.
    assert [h.source for h in uci_hashes(None, dcc, "v")] == ["v[0].ci", "co DE + v[0].ci"]


def test_every_entry_with_a_text_ci_and_nothing_of_the_rest():
    dcc = {"t": [{"ci": "A", "co": "AT"}, {"co": "AT"}, {"ci": 7}, "not a map", {"ci": "Ä"}]}
    hashes = uci_hashes("AT", dcc, "t")
    assert [h.source for h in hashes] == ["t[0].ci", "iss AT + t[0].ci", "t[4].ci", "iss AT + t[4].ci"]
    assert hashes[2].digest == revocation_hash("Ä".encode())  # UTF-8, as in the DCC
    assert uci_hashes("AT", None, None) == []
    assert uci_hashes("AT", {"v": "not a list"}, "v") == []


def test_signature_hash_is_r_for_es256_and_the_whole_signature_for_ps256():
    signature = bytes(range(64))
    assert signature_hash(cose.ES256, signature).digest == revocation_hash(signature[:32])
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    payload = b"\xa0"
    cose_bytes = cose.sign(payload, key, protected={1: cose.PS256, 4: KID})
    message = cose.parse(cose_bytes)
    assert signature_hash(message.alg, message.signature).digest == revocation_hash(message.signature)
    assert len(message.signature) == 256


# --- the partition format -----------------------------------------------------------------------


def test_partition_round_trip_and_layout():
    hashes = {HashType.UCI: [b"\x7f" + bytes(15), b"\x7f" + b"\x01" * 15], HashType.SIGNATURE: [b"\x7f" + b"\xff" * 15]}
    data = encode_partition("AT", KID, 0x7F, hashes)
    assert data[:4] == MAGIC
    assert len(data) == HEADER_SIZE + len(KID) + 3 * RECORD_SIZE
    assert struct.unpack(">III", data[16:28]) == (2, 0, 1)
    partition = parse_partition(data)
    assert (partition.country, partition.kid, partition.first_byte, partition.count()) == ("AT", KID, 0x7F, 3)
    assert partition.runs == (bytes(15) + b"\x01" * 15, b"", b"\xff" * 15)
    unknown = encode_partition("DE", UNKNOWN_KID, 0, {})
    assert unknown[7] == 0  # kid length 0: UNKNOWN_KID
    assert parse_partition(unknown).kid == UNKNOWN_KID
    assert parse_partition(unknown).count() == 0


def test_encode_partitions_touches_only_the_first_bytes_given_and_deduplicates():
    digests = [b"\x00" + bytes(15), b"\x00" + bytes(15), b"\xff" * 16]
    files = encode_partitions("AT", KID, [(HashType.UCI, digest) for digest in digests])
    assert sorted(files) == [0x00, 0xFF]
    assert parse_partition(files[0]).count() == 1


def test_encode_refuses_a_hash_of_another_partition():
    with pytest.raises(ValueError, match="starting with 01"):
        encode_partition("AT", KID, 1, {HashType.UCI: [bytes(16)]})
    with pytest.raises(ValueError, match="16-byte"):
        encode_partition("AT", KID, 0, {HashType.UCI: [bytes(15)]})


def _raw(records: list[bytes], *, magic=MAGIC, country=b"AT", counts=None) -> bytes:
    counts = counts or (len(records), 0, 0)
    return magic + b"\x10" + country + bytes((len(KID),)) + KID + struct.pack(">III", *counts) + b"".join(records)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", PartitionReason.PARTITION_TRUNCATED),
        (MAGIC + b"\x00AT", PartitionReason.PARTITION_TRUNCATED),
        (_raw([])[:-1], PartitionReason.PARTITION_TRUNCATED),
        (_raw([bytes(15)], counts=(2, 0, 0)), PartitionReason.PARTITION_TRUNCATED),
        (_raw([bytes(15)], counts=(0, 0, 0)), PartitionReason.PARTITION_TRAILING_DATA),
        (_raw([], magic=b"DRH2"), PartitionReason.PARTITION_BAD_MAGIC),
        (b"\x00" * 40, PartitionReason.PARTITION_BAD_MAGIC),
        (_raw([], country=b"at"), PartitionReason.PARTITION_BAD_COUNTRY),
        (_raw([], country=b"\xc3\x84"), PartitionReason.PARTITION_BAD_COUNTRY),
        (_raw([b"\x02" * 15, b"\x01" * 15]), PartitionReason.PARTITION_UNSORTED),
        (_raw([b"\x01" * 15, b"\x01" * 15]), PartitionReason.PARTITION_DUPLICATE),
        (_raw([b"\x01" * 15, b"\x02" * 15, b"\x02" * 15], counts=(1, 2, 0)), PartitionReason.PARTITION_DUPLICATE),
    ],
)
def test_malformed_partitions_are_refused_by_name(data, reason):
    with pytest.raises(PartitionError) as caught:
        parse_partition(data)
    assert caught.value.reason is reason
    with pytest.raises(PartitionError):
        RevokedHashes.from_partitions([data])


def test_two_runs_may_hold_the_same_record_each_sorted_on_its_own():
    data = _raw([b"\x02" * 15, b"\x01" * 15], counts=(1, 1, 0))
    assert parse_partition(data).count() == 2


def test_two_partitions_of_one_country_kid_and_first_byte_conflict():
    data = encode_partition("AT", KID, 5, {})
    with pytest.raises(PartitionError) as caught:
        store_of(data, data)
    assert caught.value.reason is PartitionReason.PARTITION_CONFLICT
    # Another country, or another kid: no conflict.
    store_of(data, encode_partition("DE", KID, 5, {}), encode_partition("AT", UNKNOWN_KID, 5, {}))


def test_damaged_partitions_never_raise_anything_else():
    rng = random.Random(19)
    digests = [bytes((0x42,)) + rng.randbytes(15) for _ in range(50)]
    data = encode_partition("AT", KID, 0x42, {HashType.UCI: digests, HashType.SIGNATURE: digests[:10]})
    refused = []
    for _ in range(500):
        damaged = bytearray(data)
        if rng.random() < 0.5:
            damaged = damaged[: rng.randrange(len(damaged))]
        else:
            for _ in range(rng.randint(1, 3)):
                damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        try:
            parse_partition(bytes(damaged))
        except PartitionError as error:  # any other exception fails the test
            refused.append(error.reason)
    assert refused
    assert all(isinstance(reason, PartitionReason) for reason in refused)


# --- the lookup, at the partition edges ----------------------------------------------------------


def test_edges_first_and_last_records_first_bytes_00_and_ff():
    low, high = b"\x00" * 16, b"\xff" * 16
    first, last = b"\x00" + b"\x00" * 14 + b"\x01", b"\x00" + b"\xff" * 15
    files = encode_partitions("AT", KID, [(HashType.UCI, digest) for digest in (low, high, first, last)])
    store = store_of(*files.values())
    for digest in (low, high, first, last):
        assert listed(store, HashType.UCI, digest)
        assert not listed(store, HashType.SIGNATURE, digest)  # another hash type's run
        assert not listed(store, HashType.UCI, digest, kid=b"otherkid")
    for digest in (b"\x00" * 15 + b"\x02", b"\xff" * 15 + b"\xfe", b"\x01" + b"\x00" * 15, b"\xfe" + b"\xff" * 15):
        assert not listed(store, HashType.UCI, digest)  # off by the last byte, or in an empty partition


def test_empty_partitions_and_an_empty_store_list_nothing():
    empty = store_of(encode_partition("AT", KID, 0, {}), encode_partition("AT", UNKNOWN_KID, 0xFF, {}))
    assert len(empty) == 0
    assert not empty.lists(KID)  # nothing to look up: the code's hashes are not even computed
    assert not listed(empty, HashType.UCI, bytes(16))
    assert not listed(store_of(), HashType.UCI, bytes(16))


def test_a_hash_differing_only_in_its_last_byte_does_not_match_in_a_large_partition():
    """Large enough for the bisection and the scan both; every member and near miss checked
    against a set."""
    rng = random.Random(1847)
    members = {b"\x80" + rng.randbytes(15) for _ in range(5000)}
    store = store_of(*encode_partitions("AT", KID, [(HashType.COUNTRYCODEUCI, d) for d in members]).values())
    assert len(store) == len(members)
    for digest in members:
        assert listed(store, HashType.COUNTRYCODEUCI, digest)
        near = digest[:-1] + bytes(((digest[-1] + 1) % 256,))
        assert listed(store, HashType.COUNTRYCODEUCI, near) == (near in members)
    for _ in range(2000):
        digest = b"\x80" + rng.randbytes(15)
        assert listed(store, HashType.COUNTRYCODEUCI, digest) == (digest in members)


def test_a_key_straddling_two_records_is_not_a_match_but_a_later_aligned_one_is():
    a, b = b"\x01" * 8 + b"\x02" * 7, b"\x03" * 8 + b"\x04" * 7
    straddle = a[8:] + b[:8]  # the tail of a and the head of b: bytes present, but no record
    files = encode_partitions("AT", KID, [(HashType.UCI, b"\x09" + r) for r in (a, b)])
    assert not listed(store_of(*files.values()), HashType.UCI, b"\x09" + straddle)
    # The same bytes straddling, and as a record of their own further on: found.
    files = encode_partitions("AT", KID, [(HashType.UCI, b"\x09" + r) for r in (a, b, straddle)])
    assert listed(store_of(*files.values()), HashType.UCI, b"\x09" + straddle)


def test_unknown_kid_applies_to_every_code_and_names_its_country():
    digest = revocation_hash(b"URN:UVCI:01:XX:1")
    store = store_of(
        encode_partition("DE", UNKNOWN_KID, digest[0], {HashType.UCI: [digest]}),
        encode_partition("AT", KID, 0x00, {HashType.UCI: [bytes(16)]}),
    )
    hashes = uci_hashes("XX", {"v": [{"ci": "URN:UVCI:01:XX:1"}]}, "v")
    for kid in (KID, b"any kid", None):
        match = store.match(kid, hashes)
        assert match is not None
        assert (match.country, match.kid, match.code_hash.hash_type) == ("DE", UNKNOWN_KID, HashType.UCI)
        assert "revoked by DE: the UCI hash of v[0].ci" in match.describe()
        assert "under UNKNOWN_KID" in match.describe()
    assert store.match(KID, uci_hashes("XX", {"v": [{"ci": "URN:UVCI:01:XX:2"}]}, "v")) is None


def test_a_kid_several_countries_list_is_one_lookup_that_still_names_who_listed():
    ours, theirs, both = (revocation_hash(bytes((n,))) for n in (1, 2, 3))
    store = store_of(
        *encode_partitions("DE", UNKNOWN_KID, [(HashType.UCI, ours), (HashType.UCI, both)]).values(),
        *encode_partitions("FR", UNKNOWN_KID, [(HashType.UCI, theirs), (HashType.UCI, both)]).values(),
    )
    assert len(store) == 3
    countries = {}
    for digest in (ours, theirs, both):
        match = store.match(KID, [signature_hash(None, b"")._replace(hash_type=HashType.UCI, digest=digest)])
        assert match is not None
        countries[digest] = match.country
    assert countries == {ours: "DE", theirs: "FR", both: "DE and FR"}
    assert not listed(store, HashType.SIGNATURE, ours)
