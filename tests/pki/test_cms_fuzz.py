"""Property tests (hypothesis) of gateway.pki.cms.parse_attached on hostile bytes.

Property: for any input, parse_attached either returns a SignedMessage or raises Rejected with a Reason;
no other exception escapes. Examples are bounded and hypothesis' choices derandomized; the hypothesis
database is off, so runs leave no files behind. The seed messages are made afresh per run (new keys), so
inputs still vary between runs: the properties that must hold were checked with 3000 random examples each,
and the properties aimed at the ranges where bugs were found (signer certificate, sid) are regression tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from asn1crypto import cms as asn1_cms
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.pki import cms
from gateway.pki.errors import Reason, Rejected
from gateway.pki.policy import PROFILES
from tests.pki.test_cms import _read_tlv, build_cms, der_header, make_world, tlv

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass(frozen=True)
class Seed:
    """A valid message and the byte ranges where mutations reach known product bugs (see test_cms.py):
    the embedded signer certificate (handed to cryptography unguarded), the SignerInfo's sid (asn1crypto
    parses it lazily outside the error handler) and, for RSA-PSS, the signature algorithm parameters."""

    name: str
    data: bytes
    known_bug_ranges: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, name: str, data: bytes, signer_der: bytes) -> Seed:
        signer_info = asn1_cms.ContentInfo.load(data)["content"]["signer_infos"][0]
        ranges = [_range_of(data, signer_der), _range_of(data, signer_info["sid"].dump())]
        if signer_info["signature_algorithm"]["algorithm"].native == "rsassa_pss":
            ranges.append(_range_of(data, signer_info["signature_algorithm"].dump()))
        return cls(name, data, tuple(ranges))

    def outside_known_bugs(self, start: int, end: int) -> bool:
        return not any(low <= start and end <= high for low, high in self.known_bug_ranges)

    @property
    def safe_offsets(self) -> list[int]:
        return [i for i in range(len(self.data)) if self.outside_known_bugs(i, i + 1)]

    @property
    def safe_elements(self) -> list[tuple[int, int]]:
        return [(s, e) for s, e in elements(self.data)[1:] if self.outside_known_bugs(s, e)]


def _range_of(data: bytes, part: bytes) -> tuple[int, int]:
    assert data.count(part) == 1
    start = data.index(part)
    return start, start + len(part)


def _seeds() -> dict[str, Seed]:
    world = make_world()
    payload = world.dsc.der
    rsa = world.rsa_upload
    upload = world.xa.upload
    p384 = world.p384_upload
    seeds = [
        Seed.of("ec-pkcs7-builder", world.message, upload.der),
        Seed.of("ec-ski-sid", build_cms(payload, upload.der, upload.key, sid="ski"), upload.der),
        Seed.of("ec-p384", build_cms(payload, p384.der, p384.key, digest="sha384"), p384.der),
        Seed.of("rsa-pkcs1v15", build_cms(payload, rsa.der, rsa.key), rsa.der),
        Seed.of("rsa-pss", build_cms(payload, rsa.der, rsa.key, scheme="pss"), rsa.der),
    ]
    return {seed.name: seed for seed in seeds}


SEEDS = _seeds()
ALL_SEEDS = list(SEEDS)

assert all(cms.parse_attached(seed.data).payload for seed in SEEDS.values())


def check(data: bytes) -> None:
    """The property: a typed rejection or a verified message, nothing else."""
    try:
        message = cms.parse_attached(data)
    except Rejected as exc:
        failure = exc
    else:
        assert isinstance(message, cms.SignedMessage)
        assert message.cms_der == data
        return
    assert isinstance(failure.reason, Reason)
    assert failure.detail


def elements(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of every element of a definite-length DER tree, outermost first."""
    found: list[tuple[int, int]] = []

    def walk(offset: int, limit: int) -> None:
        while offset < limit:
            tag, start, end = _read_tlv(data, offset)
            found.append((offset, end))
            if tag & 0x20:
                walk(start, end)
            offset = end

    walk(0, len(data))
    return found


def rewrite(data: bytes, target: tuple[int, int], new: bytes, base: int = 0) -> bytes:
    """Replace the element at ``target`` by ``new`` and re-encode every enclosing length (a structurally
    consistent mutation, unlike a raw splice)."""
    end = base + len(data)
    if (base, end) == target:
        return new
    tag, start, _ = _read_tlv(data, 0)
    if not tag & 0x20 or not (base <= target[0] and target[1] <= end):
        return data
    children, offset = [], start
    while offset < len(data):
        _, _, child_end = _read_tlv(data, offset)
        children.append(rewrite(data[offset:child_end], target, new, base + offset))
        offset = child_end
    return tlv(tag, b"".join(children))


# --- strategies -------------------------------------------------------------------------------------

seed_names = st.sampled_from(ALL_SEEDS)

der_tags = st.sampled_from([0x30, 0x31, 0xA0, 0xA1, 0xA3, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x13, 0x17, 0x80])


def der_trees(max_leaves: int = 20) -> st.SearchStrategy[bytes]:
    leaves = st.builds(lambda tag, body: tlv(tag & 0x1F, body), der_tags, st.binary(max_size=40))
    return st.recursive(
        leaves,
        lambda children: st.builds(
            lambda tag, kids: tlv(tag | 0x20, b"".join(kids)), der_tags, st.lists(children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


# --- arbitrary input ----------------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=4096))
def test_arbitrary_bytes(data: bytes) -> None:
    check(data)


@FUZZ
@given(der_trees())
def test_arbitrary_der_trees(data: bytes) -> None:
    check(data)


@FUZZ
@given(der_trees())
def test_arbitrary_der_inside_content_info(data: bytes) -> None:
    """Random DER where SignedData belongs, so parsing gets past the outer ContentInfo."""
    oid = bytes.fromhex("06092a864886f70d010702")
    check(tlv(0x30, oid + tlv(0xA0, data)))


@FUZZ
@given(st.integers(min_value=0, max_value=0xFFFFFFFFFF), st.binary(max_size=64))
def test_huge_declared_lengths(length: int, tail: bytes) -> None:
    octets = length.to_bytes(max(1, (length.bit_length() + 7) // 8), "big")
    check(bytes([0x30, 0x80 | len(octets)]) + octets + tail)


# --- mutations of valid messages ------------------------------------------------------------------------


@FUZZ
@given(seed_names, st.data())
def test_truncation(name: str, data: st.DataObject) -> None:
    seed = SEEDS[name].data
    cut = data.draw(st.integers(min_value=0, max_value=len(seed) - 1))
    check(seed[:cut])


@FUZZ
@given(seed_names, st.data())
def test_bit_flips(name: str, data: st.DataObject) -> None:
    """Flips anywhere except in the known-bug ranges (signer certificate, sid, PSS parameters)."""
    seed = SEEDS[name]
    mutated = bytearray(seed.data)
    for offset, bit in data.draw(
        st.lists(st.tuples(st.sampled_from(seed.safe_offsets), st.integers(0, 7)), min_size=1, max_size=4)
    ):
        mutated[offset] ^= 1 << bit
    check(bytes(mutated))


@FUZZ
@given(seed_names, st.data())
def test_bit_flips_in_former_bug_ranges(name: str, data: st.DataObject) -> None:
    seed = SEEDS[name]
    inside = [i for i in range(len(seed.data)) if not seed.outside_known_bugs(i, i + 1)]
    mutated = bytearray(seed.data)
    for offset, bit in data.draw(
        st.lists(st.tuples(st.sampled_from(inside), st.integers(0, 7)), min_size=1, max_size=4)
    ):
        mutated[offset] ^= 1 << bit
    check(bytes(mutated))


@FUZZ
@given(seed_names, seed_names, st.data())
def test_splice(name: str, donor_name: str, data: st.DataObject) -> None:
    """Replace a slice of one message by a slice of another (or by random bytes)."""
    seed, donor = SEEDS[name].data, SEEDS[donor_name].data
    i = data.draw(st.integers(0, len(seed)))
    j = data.draw(st.integers(i, min(len(seed), i + 256)))
    if data.draw(st.booleans()):
        k = data.draw(st.integers(0, len(donor)))
        insert = donor[k : data.draw(st.integers(k, min(len(donor), k + 256)))]
    else:
        insert = data.draw(st.binary(max_size=64))
    check(seed[:i] + insert + seed[j:])


@FUZZ
@given(seed_names, st.data())
def test_duplicate_slice(name: str, data: st.DataObject) -> None:
    seed = SEEDS[name].data
    i = data.draw(st.integers(0, len(seed) - 1))
    j = data.draw(st.integers(i + 1, min(len(seed), i + 512)))
    k = data.draw(st.integers(0, len(seed)))
    check(seed[:k] + seed[i:j] + seed[k:])


@FUZZ
@given(seed_names, st.data())
def test_duplicate_element_with_consistent_lengths(name: str, data: st.DataObject) -> None:
    """Duplicate one TLV next to itself and fix every enclosing length: two certificates, two SignerInfos,
    two attributes, two digest algorithms ... structurally valid messages only the semantic checks refuse."""
    seed = SEEDS[name]
    start, end = data.draw(st.sampled_from(seed.safe_elements))
    element = seed.data[start:end]
    check(rewrite(seed.data, (start, end), element + element))


@FUZZ
@given(seed_names, st.data())
def test_replace_element(name: str, data: st.DataObject) -> None:
    """Swap one element for random DER, lengths kept consistent."""
    seed = SEEDS[name]
    target = data.draw(st.sampled_from(seed.safe_elements))
    check(rewrite(seed.data, target, data.draw(der_trees(max_leaves=6))))


@FUZZ
@given(seed_names, st.data())
def test_remove_element(name: str, data: st.DataObject) -> None:
    seed = SEEDS[name]
    target = data.draw(st.sampled_from(seed.safe_elements))
    check(rewrite(seed.data, target, b""))


@FUZZ
@given(seed_names, st.data(), st.sampled_from([0x80, 0x81, 0x82, 0x84, 0x88]))
def test_non_minimal_or_indefinite_lengths(name: str, data: st.DataObject, form: int) -> None:
    """Re-encode one constructed element's length in a non-DER form (long form, or indefinite + EOC)."""
    seed = SEEDS[name].data
    constructed = [(s, e) for s, e in SEEDS[name].safe_elements if seed[s] & 0x20]
    start, end = data.draw(st.sampled_from(constructed))
    tag, content_start, _ = _read_tlv(seed, start)
    content = seed[content_start:end]
    if form == 0x80:
        header, trailer = bytes([tag, 0x80]), b"\x00\x00"
    else:
        size = form & 0x7F
        if len(content) >= 1 << (8 * size):
            return
        header, trailer = bytes([tag, form]) + len(content).to_bytes(size, "big"), b""
    mutated = rewrite(seed, (start, end), header + content + trailer)
    assume(mutated != seed)
    check(mutated)


@FUZZ
@given(seed_names, st.data(), st.sampled_from(["remove", "duplicate", "replace"]))
def test_structural_mutations_in_former_bug_ranges(name: str, data: st.DataObject, action: str) -> None:
    seed = SEEDS[name]
    inside = [(s, e) for s, e in elements(seed.data)[1:] if not seed.outside_known_bugs(s, e)]
    start, end = data.draw(st.sampled_from(inside))
    element = seed.data[start:end]
    new = {"remove": b"", "duplicate": element + element}.get(action) or data.draw(der_trees(max_leaves=6))
    check(rewrite(seed.data, (start, end), new))


def test_known_bug_ranges_are_found() -> None:
    for seed in SEEDS.values():
        assert len(seed.known_bug_ranges) == (3 if seed.name == "rsa-pss" else 2)
        assert len(seed.safe_offsets) > len(seed.data) // 3
        assert seed.safe_elements


def test_header_helper_round_trip() -> None:
    for length in (0, 1, 127, 128, 255, 256, 65535, 65536):
        header = der_header(0x04, length)
        tag, start, end = _read_tlv(header + b"\x00" * length, 0)
        assert (tag, end - start) == (0x04, length)


# --- the dgcg CmsPolicy (issue 22): the relaxed paths are as hostile-proof as the strict ones ---------

DGCG = PROFILES["dgcg"].cms


def _dgcg_seeds() -> dict[str, tuple[bytes, bytes, bytes]]:
    """Messages only dgcg accepts, each with its payload and signature value (flip targets)."""
    world = make_world()
    payload, rsa, upload = world.dsc.der, world.rsa_upload, world.xa.upload
    messages = {
        "ec-no-attributes": build_cms(payload, upload.der, upload.key, signed_attributes=None),
        "rsa-no-attributes": build_cms(payload, rsa.der, rsa.key, signed_attributes=None),
        "rsa-sha1": build_cms(payload, rsa.der, rsa.key, digest="sha1"),
        "ec-sha1-no-attributes": build_cms(payload, upload.der, upload.key, digest="sha1", signed_attributes=None),
        "rsa-pss-sha1": build_cms(payload, rsa.der, rsa.key, digest="sha1", scheme="pss"),
    }
    seeds = {}
    for name, message in messages.items():
        signature = asn1_cms.ContentInfo.load(message)["content"]["signer_infos"][0]["signature"].native
        assert cms.parse_attached(message, DGCG).findings
        seeds[name] = (message, payload, signature)
    return seeds


DGCG_SEEDS = _dgcg_seeds()


def check_dgcg(data: bytes) -> cms.SignedMessage | None:
    """The property of :func:`check`, under the dgcg policy; None when refused."""
    try:
        return cms.parse_attached(data, DGCG)
    except Rejected as exc:
        failure = exc
    assert isinstance(failure.reason, Reason)
    assert failure.detail
    return None


@FUZZ
@given(st.sampled_from(list(DGCG_SEEDS)), st.data())
def test_dgcg_bit_flips(name: str, data: st.DataObject) -> None:
    message = DGCG_SEEDS[name][0]
    mutated = bytearray(message)
    for offset, bit in data.draw(
        st.lists(st.tuples(st.integers(0, len(message) - 1), st.integers(0, 7)), min_size=1, max_size=4)
    ):
        mutated[offset] ^= 1 << bit
    check_dgcg(bytes(mutated))


@FUZZ
@given(st.sampled_from(list(DGCG_SEEDS)), st.sampled_from(["payload", "signature"]), st.data())
def test_dgcg_never_accepts_a_flipped_payload_or_signature(name: str, part: str, data: st.DataObject) -> None:
    """What the signature covers (the content itself, without signed attributes) and the signature
    value: one flipped bit in either and the relaxed policy still refuses."""
    message, payload, signature = DGCG_SEEDS[name]
    target = payload if part == "payload" else signature
    assert message.count(target) == 1
    offset = message.index(target) + data.draw(st.integers(0, len(target) - 1))
    mutated = bytearray(message)
    mutated[offset] ^= 1 << data.draw(st.integers(0, 7))
    assert check_dgcg(bytes(mutated)) is None


@FUZZ
@given(st.sampled_from(list(DGCG_SEEDS)), st.data())
def test_dgcg_replace_element(name: str, data: st.DataObject) -> None:
    message = DGCG_SEEDS[name][0]
    target = data.draw(st.sampled_from(elements(message)[1:]))
    check_dgcg(rewrite(message, target, data.draw(der_trees(max_leaves=6))))
