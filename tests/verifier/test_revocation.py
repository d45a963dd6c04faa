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
    PARTITION_TARGET,
    RECORD_SIZE,
    TYPES,
    UNKNOWN_KID,
    byte_ranges,
    check_group,
    encode_group,
    encode_partition,
    encode_sorted_group,
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
    store = RevokedHashes.from_partitions(encode_group("AT", dsc_kid, [(hash_type, bytes.fromhex(hex_digest))]))
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
    hashes = {HashType.UCI: [b"\x7f" + bytes(15), b"\x7f" + b"\x01" * 15], HashType.SIGNATURE: [b"\x80" + b"\xff" * 15]}
    data = encode_partition("AT", KID, 0x40, 0x9F, hashes)
    assert data[:4] == MAGIC
    assert data[4:6] == b"\x40\x9f"
    assert len(data) == HEADER_SIZE + len(KID) + 3 * RECORD_SIZE
    assert struct.unpack(">III", data[17:29]) == (2, 0, 1)
    partition = parse_partition(data)
    assert (partition.country, partition.kid, partition.low, partition.high) == ("AT", KID, 0x40, 0x9F)
    assert partition.count() == 3
    assert partition.runs == (b"\x7f" + bytes(15) + b"\x7f" + b"\x01" * 15, b"", b"\x80" + b"\xff" * 15)
    unknown = encode_partition("DE", UNKNOWN_KID, 0, 255, {})
    assert unknown[8] == 0  # kid length 0: UNKNOWN_KID
    assert parse_partition(unknown).kid == UNKNOWN_KID
    assert parse_partition(unknown).count() == 0


@pytest.mark.parametrize(
    ("count", "parts"),
    [(0, 1), (1, 1), (PARTITION_TARGET, 1), (PARTITION_TARGET + 1, 2), (10_000, 4), (80_000, 32), (10**9, 256)],
)
def test_byte_ranges_tile_every_first_byte_with_the_fewest_partitions(count, parts):
    ranges = byte_ranges(count)
    assert len(ranges) == parts
    assert [value for low, high in ranges for value in range(low, high + 1)] == list(range(256))


def test_encode_group_splits_by_count_deduplicates_and_tiles():
    rng = random.Random(7)
    digests = [rng.randbytes(16) for _ in range(PARTITION_TARGET + 10)]
    files = encode_group("AT", KID, [(HashType.UCI, digest) for digest in digests + digests[:5]])
    partitions = [parse_partition(data) for data in files]
    assert [(p.low, p.high) for p in partitions] == [(0x00, 0x7F), (0x80, 0xFF)]
    assert sum(p.count() for p in partitions) == len(digests)
    check_group(partitions)
    assert encode_group("AT", KID, []) == []


def test_encode_refuses_a_hash_outside_the_range():
    with pytest.raises(ValueError, match=r"starting in 01\.\.01"):
        encode_partition("AT", KID, 1, 1, {HashType.UCI: [bytes(16)]})
    with pytest.raises(ValueError, match="16-byte"):
        encode_partition("AT", KID, 0, 255, {HashType.UCI: [bytes(15)]})
    with pytest.raises(ValueError, match="16-byte"):
        encode_group("AT", KID, [(HashType.UCI, bytes(15))])


@pytest.mark.parametrize("count", [0, 1, 3, PARTITION_TARGET, PARTITION_TARGET + 1, 40_000])
def test_encode_sorted_group_makes_the_files_encode_group_makes(count):
    """The publisher's encoder (runs sorted by the database) and the reference one agree byte for
    byte, at one partition and at several, with edge bytes 00 and ff, whatever the order given."""
    rng = random.Random(count)
    pairs = [(TYPES[rng.randrange(3)], rng.randbytes(16)) for _ in range(count)]
    pairs += [(HashType.UCI, bytes(16)), (HashType.SIGNATURE, b"\xff" * 16)] if count else []
    for kid in (KID, UNKNOWN_KID):
        runs = {t: sorted({d for pair_type, d in pairs if pair_type is t}) for t in TYPES}
        assert encode_sorted_group("AT", kid, runs) == encode_group("AT", kid, pairs + pairs[:5])
    assert encode_sorted_group("AT", KID, {}) == []


def test_encode_sorted_group_refuses_runs_out_of_order_duplicated_or_of_another_size():
    low, high = bytes(16), b"\x01" * 16
    for run, message in (
        ([high, low], "ascending"),
        ([low, low], "ascending"),
        ([low, bytes(15)], "16 bytes"),
        ([bytes(15), bytes(17)], "16 bytes"),
    ):
        with pytest.raises(ValueError, match=message):
            encode_sorted_group("AT", KID, {HashType.COUNTRYCODEUCI: run})
    with pytest.raises(PartitionError):
        encode_sorted_group("at", KID, {HashType.UCI: [low]})


def _raw(records: list[bytes], *, magic=MAGIC, country=b"AT", counts=None, span=b"\x10\x1f") -> bytes:
    counts = counts or (len(records), 0, 0)
    return magic + span + country + bytes((len(KID),)) + KID + struct.pack(">III", *counts) + b"".join(records)


def _rec(fill: int, first: int = 0x10) -> bytes:
    return bytes((first,)) + bytes((fill,)) * 15


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", PartitionReason.PARTITION_TRUNCATED),
        (MAGIC + b"\x00\xffAT", PartitionReason.PARTITION_TRUNCATED),
        (_raw([])[:-1], PartitionReason.PARTITION_TRUNCATED),
        (_raw([_rec(1)], counts=(2, 0, 0)), PartitionReason.PARTITION_TRUNCATED),
        (_raw([_rec(1)], counts=(0, 0, 0)), PartitionReason.PARTITION_TRAILING_DATA),
        (_raw([], magic=b"DRH1"), PartitionReason.PARTITION_BAD_MAGIC),
        (b"\x00" * 40, PartitionReason.PARTITION_BAD_MAGIC),
        (_raw([], country=b"at"), PartitionReason.PARTITION_BAD_COUNTRY),
        (_raw([], country=b"\xc3\x84"), PartitionReason.PARTITION_BAD_COUNTRY),
        (_raw([], span=b"\x20\x1f"), PartitionReason.PARTITION_BAD_RANGE),
        (_raw([_rec(1, first=0x20)]), PartitionReason.PARTITION_BAD_RANGE),
        (_raw([_rec(1), _rec(1, first=0x0F)]), PartitionReason.PARTITION_BAD_RANGE),
        (_raw([_rec(2), _rec(1)]), PartitionReason.PARTITION_UNSORTED),
        (_raw([_rec(1), _rec(1)]), PartitionReason.PARTITION_DUPLICATE),
        (_raw([_rec(1), _rec(2), _rec(2)], counts=(1, 2, 0)), PartitionReason.PARTITION_DUPLICATE),
    ],
)
def test_malformed_partitions_are_refused_by_name(data, reason):
    with pytest.raises(PartitionError) as caught:
        parse_partition(data)
    assert caught.value.reason is reason
    with pytest.raises(PartitionError):
        RevokedHashes.from_partitions([data])


def test_two_runs_may_hold_the_same_record_each_sorted_on_its_own():
    data = _raw([_rec(2), _rec(1)], counts=(1, 1, 0))
    assert parse_partition(data).count() == 2


def halves(country="AT", kid=KID) -> list[bytes]:
    return [encode_partition(country, kid, 0, 0x7F, {}), encode_partition(country, kid, 0x80, 0xFF, {})]


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        ([encode_partition("AT", KID, 0, 0x7F, {})], PartitionReason.PARTITION_GAP),
        ([encode_partition("AT", KID, 0x01, 0xFF, {})], PartitionReason.PARTITION_GAP),
        (halves()[::-1], PartitionReason.PARTITION_GAP),  # listed out of order: 0x80 where 0x00 was due
        ([*halves(), encode_partition("AT", KID, 0x80, 0xFF, {})], PartitionReason.PARTITION_CONFLICT),
        ([encode_partition("AT", KID, 0, 0x80, {}), halves()[1]], PartitionReason.PARTITION_CONFLICT),
        ([halves()[0], halves("DE")[1]], PartitionReason.PARTITION_CONFLICT),
    ],
)
def test_a_group_whose_partitions_do_not_tile_the_bytes_is_refused(files, reason):
    with pytest.raises(PartitionError) as caught:
        RevokedHashes.from_groups([files])
    assert caught.value.reason is reason


def test_one_country_and_kid_twice_conflicts_another_country_or_kid_does_not():
    with pytest.raises(PartitionError) as caught:
        RevokedHashes.from_groups([halves(), halves()])
    assert caught.value.reason is PartitionReason.PARTITION_CONFLICT
    RevokedHashes.from_groups([halves(), halves("DE"), halves(kid=UNKNOWN_KID)])


def test_damaged_partitions_never_raise_anything_else():
    rng = random.Random(19)
    digests = [bytes((0x42,)) + rng.randbytes(15) for _ in range(50)]
    data = encode_partition("AT", KID, 0x42, 0x42, {HashType.UCI: digests, HashType.SIGNATURE: digests[:10]})
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
    files = encode_group("AT", KID, [(HashType.UCI, digest) for digest in (low, high, first, last)])
    store = store_of(*files)
    for digest in (low, high, first, last):
        assert listed(store, HashType.UCI, digest)
        assert not listed(store, HashType.SIGNATURE, digest)  # another hash type's run
        assert not listed(store, HashType.UCI, digest, kid=b"otherkid")
    for digest in (b"\x00" * 15 + b"\x02", b"\xff" * 15 + b"\xfe", b"\x01" + b"\x00" * 15, b"\xfe" + b"\xff" * 15):
        assert not listed(store, HashType.UCI, digest)  # off by the last byte, or a first byte with none


def test_empty_partitions_and_an_empty_store_list_nothing():
    empty = store_of(*halves(), *halves(kid=UNKNOWN_KID))
    assert len(empty) == 0
    assert not empty.lists(KID)  # nothing to look up: the code's hashes are not even computed
    assert not listed(empty, HashType.UCI, bytes(16))
    assert not listed(store_of(), HashType.UCI, bytes(16))


def test_a_hash_differing_only_in_its_last_byte_does_not_match_in_a_large_partition():
    """Large enough for the bisection and the scan both; every member and near miss checked
    against a set."""
    rng = random.Random(1847)
    members = {b"\x80" + rng.randbytes(15) for _ in range(5000)}
    store = store_of(*encode_group("AT", KID, [(HashType.COUNTRYCODEUCI, d) for d in members]))
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
    files = encode_group("AT", KID, [(HashType.UCI, b"\x09" + r) for r in (a, b)])
    assert not listed(store_of(*files), HashType.UCI, b"\x09" + straddle)
    # The same bytes straddling, and as a record of their own further on: found.
    files = encode_group("AT", KID, [(HashType.UCI, b"\x09" + r) for r in (a, b, straddle)])
    assert listed(store_of(*files), HashType.UCI, b"\x09" + straddle)


def test_unknown_kid_applies_to_every_code_and_names_its_country():
    digest = revocation_hash(b"URN:UVCI:01:XX:1")
    store = store_of(
        *encode_group("DE", UNKNOWN_KID, [(HashType.UCI, digest)]),
        *encode_group("AT", KID, [(HashType.UCI, bytes(16))]),
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
        *encode_group("DE", UNKNOWN_KID, [(HashType.UCI, ours), (HashType.UCI, both)]),
        *encode_group("FR", UNKNOWN_KID, [(HashType.UCI, theirs), (HashType.UCI, both)]),
    )
    assert len(store) == 3
    countries = {}
    for digest in (ours, theirs, both):
        match = store.match(KID, [signature_hash(None, b"")._replace(hash_type=HashType.UCI, digest=digest)])
        assert match is not None
        countries[digest] = match.country
    assert countries == {ours: "DE", theirs: "FR", both: "DE and FR"}
    assert not listed(store, HashType.SIGNATURE, ours)


# --- the parser's order check, the index and the merged table at their edges ---------------------


def _run_file(records: list[bytes]) -> bytes:
    return _raw(records, counts=(len(records), 0, 0), span=b"\x00\xff")


@pytest.mark.parametrize("position", [1, 4095, 4096, 4097, 8192, 9999])
@pytest.mark.parametrize("reason", [PartitionReason.PARTITION_UNSORTED, PartitionReason.PARTITION_DUPLICATE])
@pytest.mark.parametrize("half", ["first", "last"])
def test_the_order_is_checked_across_the_chunks_the_parser_compares_at_once(position, reason, half):
    """Runs longer than the parser's chunk (4,096 records): a fault between any two records,
    at a chunk's edge too, is found and named with its position. The records differ in their
    first 8 bytes (the parser's quick comparison decides) or only in their last 8 (it cannot:
    the records are compared whole)."""
    records = [((i << 64 | 0x5A) if half == "first" else i).to_bytes(16, "big") for i in range(10_000)]
    assert parse_partition(_run_file(records)).count() == len(records)
    if reason is PartitionReason.PARTITION_DUPLICATE:
        records[position] = records[position - 1]
    else:
        records[position - 1], records[position] = records[position], records[position - 1]
    with pytest.raises(PartitionError) as caught:
        parse_partition(_run_file(records))
    assert caught.value.reason is reason
    assert f"UCI record {position} " in str(caught.value)


def test_parsed_runs_are_views_of_the_file_equal_to_its_records():
    records = [bytes((0x10,)) + bytes((n,)) * 15 for n in range(3)]
    data = _raw(records)
    run = parse_partition(data).runs[0]
    assert isinstance(run, memoryview)
    assert run.obj is data  # no copy: loading joins the views once per group and type
    assert run == b"".join(records)


@pytest.mark.parametrize("size", [1, 15, 16, 4095, 4096, 20_000, 300_000])
def test_every_member_and_no_neighbour_matches_whatever_the_size_of_the_index(size):
    """The index has a bucket per value of the first 0 to 16 bits, more for a larger run:
    members at and around bucket edges (of every width: whichever the index uses) are found,
    their neighbours (one off in the last byte, or in the bit below the first two bytes) are
    not, unless listed."""
    rng = random.Random(size)
    members = {rng.randbytes(16) for _ in range(size)}
    for bits in range(1, 17):
        for bucket in rng.sample(range(1, 1 << bits), min(8, (1 << bits) - 1)):
            edge = bucket << (16 - bits)
            members |= {edge.to_bytes(2, "big") + bytes(14), edge.to_bytes(2, "big") + rng.randbytes(14)}
            members |= {(edge - 1).to_bytes(2, "big") + b"\xff" * 14}
    members |= {bytes(16), b"\xff" * 16}
    store = store_of(*encode_group("AT", KID, [(HashType.SIGNATURE, digest) for digest in members]))
    assert len(store) == len(members)
    probes = list(members)[:5000] + [d for d in members if d[2:] in (bytes(14), b"\xff" * 14)]
    for digest in probes:
        assert listed(store, HashType.SIGNATURE, digest)
        assert not listed(store, HashType.UCI, digest)
        value = int.from_bytes(digest, "big")
        for neighbour in (value - 1, value + 1, value ^ (1 << (128 - 16 - 1))):
            if 0 <= neighbour < 1 << 128:
                near = neighbour.to_bytes(16, "big")
                assert listed(store, HashType.SIGNATURE, near) == (near in members)
    for _ in range(2000):
        digest = rng.randbytes(16)
        assert listed(store, HashType.SIGNATURE, digest) == (digest in members)


def test_a_kid_listed_by_many_countries_names_each_set_of_countries_exactly():
    """Nine countries list UNKNOWN_KID hashes, each hash a different set of them (all 511):
    more sets than one byte can number. Each match names exactly the countries of its set."""
    countries = ["AT", "BE", "DE", "ES", "FR", "IT", "NL", "PL", "SE"]
    by_set = {mask: revocation_hash(mask.to_bytes(2, "big")) for mask in range(1, 1 << len(countries))}
    files = []
    for bit, country in enumerate(countries):
        hashes = [(HashType.UCI, digest) for mask, digest in by_set.items() if mask >> bit & 1]
        files += encode_group(country, UNKNOWN_KID, hashes)
    store = store_of(*files)
    assert len(store) == len(by_set)
    for mask, digest in by_set.items():
        match = store.match(KID, [signature_hash(None, b"")._replace(hash_type=HashType.UCI, digest=digest)])
        assert match is not None
        assert match.country == " and ".join(c for bit, c in enumerate(countries) if mask >> bit & 1)
        assert not listed(store, HashType.SIGNATURE, digest)
    assert not listed(store, HashType.UCI, revocation_hash(b"none"))
