"""Verifier SDK: revoked DCC hashes at scale -- published size, load time, memory, lookup.

    .venv/bin/python bench/revocation_lookup.py                 # 1 M and 10 M over 1,000 kids, ~5 min
    .venv/bin/python bench/revocation_lookup.py --sizes 1000000 --candidates
    .venv/bin/python bench/revocation_lookup.py --sizes 8000000 --kids 100 --unknown 10   # 80 M's density

What is measured, per configuration (random 16-byte hashes generated in-process, a third of each
hash type, 1 % (``--unknown``) under UNKNOWN_KID from three countries, the rest spread evenly
over the kids):

- **Size**: every group (one country, one kid) as the gateway publishes it: its DRH2 part files
  (``encode_group``, split by count) written to ``parts/<sha256>`` of a folder, and the manifest
  naming them by SHA-256 and length, as ``publication/partitions.py`` builds it. Parts are
  served as they are (raw); gzip -6 per file is what a server compressing each response would
  send. Bytes per hash; the manifest's size beside them.
- **Load**: in a fresh process, ``json.loads`` of the manifest, then
  ``verifier.revocation_parts.load_revoked_hashes(folder, manifest)``: what a verifier does with a
  synced state (read each part, check its SHA-256 and length again, parse, check every run's
  order, index), one group at a time. Resident memory (VmRSS) before and after, and the peak
  (VmHWM) of the process. The parts were just written, so they are read from the page cache.
- **Lookup**: codes issued by DSCs whose kids are in the store (ES256, a random ci each), 10 %
  revoked by UCI and 10 % by SIGNATURE. Per call, ``time.perf_counter_ns``, p50/p90 over every code
  and 5 rounds: the lookup alone (``RevokedHashes.match`` on all the code's hashes), the REVOCATION
  step's DCC part as ``verify_hc1`` runs it (``checks.check_dcc_revocation``: hashing + lookup),
  and the whole ``verify_hc1`` with and without the store. Every result is checked.
- ``--candidates``: the same hashes in other structures (a set of 16-byte ``bytes``, a sorted
  list of 16-byte ``bytes`` with ``bisect``, ``RevokedHashes`` of one group), memory and lookup,
  and the probe cost of the EU distribution service's Bloom filter (k = 40 SHA-256, p = 1e-12).

The process is pinned to one CPU. 80 million is extrapolated from the growth between the two
largest sizes measured (linear in the count from there; the manifest's by its growth per part
file); the part count at 80 M is computed exactly (``byte_ranges``). Its lookup is measured at
its density (72,000 hashes per kid, 800,000 under UNKNOWN_KID) with ``--sizes 8000000 --kids 100
--unknown 10``.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import ctypes
import datetime as dt
import gc
import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from bench.common import cpu_reference, table
from bench.verify_hc1 import DCC, NOW, certificate, machine_description
from revocation.scopes import scope_of
from verifier import cose
from verifier.checks import check_dcc_revocation
from verifier.decode import decode_claims, hc1_to_cose
from verifier.descriptors import PARTS_MANIFEST_VERSION
from verifier.encoding import canonical_json
from verifier.hcert import verify_hc1
from verifier.issue import issue_hc1
from verifier.reasons import HcertError, Reason
from verifier.revocation_hashes import CodeHash, HashType, code_hashes
from verifier.revocation_partition import MAGIC, TYPES, UNKNOWN_KID, Kid, byte_ranges, encode_group
from verifier.revocation_parts import PARTS_FOLDER, load_revoked_hashes
from verifier.revoked_hashes import RevokedHashes
from verifier.trust import TrustStore, kid_of

DSCS = 20  # kids with a real DSC, to issue codes with; the other kids are random bytes
COUNTRIES = ["AT", "BE", "DE", "FR", "IT", "NL", "PL", "SE"]
UNKNOWN_COUNTRIES = ["DE", "FR", "IT"]


def rss_kib(field: str = "VmRSS") -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def random_digests(count: int, rng: random.Random) -> list[bytes]:
    data = rng.randbytes(count * 16)
    return [data[i : i + 16] for i in range(0, len(data), 16)]


def gzip_size(data: bytes) -> int:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # wbits 31: a gzip stream, as a server sends
    return len(compressor.compress(data)) + len(compressor.flush())


# --- building (parent process) ---------------------------------------------------------------------


@dataclass
class Built:
    manifest_path: Path
    codes_path: Path
    parts: int
    raw: int  # bytes of every part file
    gzipped: int  # the same, each file gzip -6 on its own
    manifest_raw: int
    manifest_gzipped: int
    seconds: float


def issue_codes(codes: int, rng: random.Random) -> tuple[list[Any], list[str], dict[int, str], dict[bytes, list]]:
    """DSCs, their codes, which codes are revoked (by which hash type) and the hashes listed per kid."""
    dscs = []
    for index in range(DSCS):
        key = ec.generate_private_key(ec.SECP256R1())
        dscs.append((key, certificate(key, f"DSC {index}", COUNTRIES[index % len(COUNTRIES)], index + 1)))
    texts: list[str] = []
    revoked: dict[int, str] = {}
    listed: dict[bytes, list[tuple[HashType, bytes]]] = {}
    for index in range(codes):
        key, cert = dscs[index % DSCS]
        payload = json.loads(json.dumps(DCC))
        payload["v"][0]["ci"] = f"URN:UVCI:01:XA:{rng.getrandbits(128):032X}#{index % 10}"
        country = cert.subject.rfc4514_string().split("C=")[1][:2]
        text = issue_hc1(
            payload, cert, key, iat=NOW - dt.timedelta(days=1), exp=NOW + dt.timedelta(days=180), issuer=country
        )
        texts.append(text)
        message = cose.parse(hc1_to_cose(text))
        claims = decode_claims(message.payload)
        hashes = code_hashes(message.alg, message.signature, claims.issuer, claims.dcc, claims.payload_type)
        if index % 10 in (0, 1):  # 10 % revoked by UCI, 10 % by SIGNATURE
            chosen = hashes[0] if index % 10 == 0 else hashes[-1]
            assert message.kid is not None
            listed.setdefault(message.kid, []).append((chosen.hash_type, chosen.digest))
            revoked[index] = chosen.hash_type.name
    return dscs, texts, revoked, listed


def owners(size: int, kid_list: Sequence[bytes], unknown_percent: float) -> list[tuple[Kid, str, int]]:
    """(kid, country, hashes) of every group: ``unknown_percent`` under UNKNOWN_KID from three
    countries, the rest evenly over the kids."""
    unknown = int(size * unknown_percent / 100)
    per_kid, extra = divmod(size - unknown, len(kid_list))
    found: list[tuple[Kid, str, int]] = [
        (kid, COUNTRIES[i % len(COUNTRIES)], per_kid + (i < extra)) for i, kid in enumerate(kid_list)
    ]
    found += [(UNKNOWN_KID, country, unknown // len(UNKNOWN_COUNTRIES)) for country in UNKNOWN_COUNTRIES]
    return found


def build(size: int, kids: int, unknown_percent: float, codes: int, folder: Path) -> Built:
    """Publish ``size`` hashes to ``folder`` as the gateway does (parts under their SHA-256, and
    the manifest), and the codes to look up beside them."""
    started = time.perf_counter()
    rng = random.Random(size)
    dscs, texts, revoked, listed = issue_codes(codes, rng)
    kid_list = [kid_of(cert.public_bytes(Encoding.DER)) for _, cert in dscs]
    kid_list += [rng.randbytes(8) for _ in range(kids - DSCS)]
    parts_folder = folder / PARTS_FOLDER
    parts_folder.mkdir(parents=True)
    raw = gzipped = parts = 0
    groups: dict[str, dict[str, Any]] = {}
    for kid, country, count in owners(size, kid_list, unknown_percent):
        digests = random_digests(count, rng)
        entries = [(TYPES[i % 3], digest) for i, digest in enumerate(digests)]
        if isinstance(kid, bytes):
            entries += listed.get(kid, [])
        described = []
        for data in encode_group(country, kid, entries):
            digest = hashlib.sha256(data).hexdigest()
            (parts_folder / digest).write_bytes(data)
            described.append({"sha256": digest, "length": len(data)})
            raw += len(data)
            gzipped += gzip_size(data)
            parts += 1
        kid_text = kid if isinstance(kid, str) else base64.b64encode(kid).decode("ascii")
        scope = scope_of(country, kid_text)
        # The members revocation/content.py gives a group, then publication/partitions.py's shape.
        groups[scope] = {
            "group": scope,
            "country": country,
            "kid": kid_text,
            "hashes": len(set(entries)),
            "parts": described,
        }
    manifest = {
        "version": PARTS_MANIFEST_VERSION,
        "format": MAGIC.decode("ascii"),
        "groups": [groups[scope] for scope in sorted(groups)],
    }
    # The manifest is the content of a named artifact: canonical JSON, signed in a JWS (where
    # base64url makes it 4/3 as long).
    manifest_bytes = canonical_json(manifest)
    manifest_path = folder / "manifest.json"
    manifest_path.write_bytes(manifest_bytes)
    codes_path = folder / "codes.json"
    certificates = [base64.b64encode(cert.public_bytes(Encoding.DER)).decode() for _, cert in dscs]
    codes_path.write_text(json.dumps({"certificates": certificates, "texts": texts, "revoked": revoked}))
    return Built(
        manifest_path,
        codes_path,
        parts,
        raw,
        gzipped,
        len(manifest_bytes),
        gzip_size(manifest_bytes),
        time.perf_counter() - started,
    )


# --- loading and looking up (child process) ---------------------------------------------------------


def time_calls(function: Callable[[Any], object], arguments: Sequence[Any], rounds: int = 5) -> list[float]:
    """µs per call, every call timed on its own."""
    samples = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for argument in arguments:
            start = clock()
            function(argument)
            samples.append((clock() - start) / 1000)
    return samples


def load_and_look_up(manifest_path: Path, codes_path: Path) -> dict[str, Any]:
    gc.collect()
    before = rss_kib()
    started = time.perf_counter()
    manifest = json.loads(manifest_path.read_bytes())
    parsed = time.perf_counter() - started
    store = load_revoked_hashes(manifest_path.parent, manifest)
    loaded = time.perf_counter() - started
    del manifest  # a verifier keeps it in its state; its size is reported on its own
    gc.collect()
    after = rss_kib()
    peak = rss_kib("VmHWM")

    spec = json.loads(codes_path.read_text())
    trust = TrustStore.from_certificates([base64.b64decode(c) for c in spec["certificates"]])
    revoked = {int(index): name for index, name in spec["revoked"].items()}
    decoded = []
    for index, text in enumerate(spec["texts"]):
        message = cose.parse(hc1_to_cose(text))
        claims = decode_claims(message.payload)
        hashes = code_hashes(message.alg, message.signature, claims.issuer, claims.dcc, claims.payload_type)
        decoded.append((index, text, message, claims, hashes))
        result = verify_hc1(text, trust, NOW, revoked_hashes=store)
        if index in revoked:
            assert result.reason is Reason.DCC_REVOKED, result.to_dict()
            assert f"the {revoked[index]} hash" in result.step("REVOCATION").detail
        else:
            assert result.valid, result.to_dict()
    clean = [item for item in decoded if item[0] not in revoked]
    hit = [item for item in decoded if item[0] in revoked]

    def step(item: tuple) -> None:
        _, _, message, claims, _ = item
        try:
            check_dcc_revocation(store, message, claims.issuer, claims.dcc, claims.payload_type)
        except HcertError:
            pass

    lookup_clean = time_calls(lambda item: store.match(item[2].kid, item[4]), clean)
    lookup_hit = time_calls(lambda item: store.match(item[2].kid, item[4]), hit)
    step_clean = time_calls(step, clean)
    step_hit = time_calls(step, hit)
    with_store = time_calls(lambda item: verify_hc1(item[1], trust, NOW, revoked_hashes=store), clean, rounds=3)
    without = time_calls(lambda item: verify_hc1(item[1], trust, NOW), clean, rounds=3)
    return {
        "hashes": len(store),
        "manifest_s": parsed,
        "load_s": loaded,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "peak_kib": peak,
        "timings": {
            "RevokedHashes.match, not revoked (all hashes searched)": lookup_clean,
            "RevokedHashes.match, revoked": lookup_hit,
            "check_dcc_revocation (hashing + lookup), not revoked": step_clean,
            "check_dcc_revocation, revoked": step_hit,
            "verify_hc1 with the store (not revoked)": with_store,
            "verify_hc1 without a store": without,
        },
    }


# --- other structures (child process) -----------------------------------------------------------


CANDIDATES = ("set", "sorted", "store", "bloom")


def candidate(name: str, size: int) -> list[str]:
    """One structure, in a process of its own (memory freed by another would hide its growth):
    it makes its own objects from one buffer of the hashes (the input, held throughout), so the
    RSS growth is what it costs."""
    data = random.Random(7).randbytes(size * 16)
    probes = random_digests(2000, random.Random(size)) + [data[i * 16 : i * 16 + 16] for i in range(2000)]
    members = set(probes[2000:])

    def digests() -> list[bytes]:
        return [data[i : i + 16] for i in range(0, len(data), 16)]

    def measure(label: str, build_structure: Callable[[], Any], look_up: Callable[[Any, bytes], bool]) -> list[str]:
        gc.collect()
        # Hand back to the system what making the input freed, so the structure cannot grow
        # into it unseen (glibc; a measuring device here, not something the verifier does).
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        before = rss_kib()
        built = build_structure()
        gc.collect()
        grown = (rss_kib() - before) * 1024
        assert all(look_up(built, probe) == (probe in members) for probe in probes)
        samples = time_calls(lambda probe: look_up(built, probe), probes)
        return [
            label,
            f"{grown / size:.1f}",
            f"{grown / size * 10_000_000 / 1e6:,.0f} MB",
            f"{percentile(samples, 0.5):.2f}",
            f"{percentile(samples, 0.9):.2f}",
        ]

    if name == "set":
        return measure("set of 16-byte bytes", lambda: set(digests()), lambda s, probe: probe in s)
    if name == "sorted":

        def bisect_lookup(ordered: list[bytes], probe: bytes) -> bool:
            index = bisect.bisect_left(ordered, probe)
            return index < len(ordered) and ordered[index] == probe

        return measure("sorted list of 16-byte bytes, bisect", lambda: sorted(digests()), bisect_lookup)
    if name == "store":
        kid = b"kid00001"
        code_probes = {probe: (CodeHash(HashType.UCI, probe),) for probe in probes}
        files = encode_group("AT", kid, [(HashType.UCI, digest) for digest in digests()])  # the input, as data
        return measure(
            "RevokedHashes, one hash (one group of all: the densest runs)",
            lambda: RevokedHashes.from_groups([files]),
            lambda store, probe: store.match(kid, code_probes[probe]) is not None,
        )

    # The EU distribution service's Bloom filter (docs: k = 40, bit i = SHA-256(element || i)).
    bits = 1 << 20
    array = bytearray(bits // 8)

    def bloom_probe(probe: bytes) -> bool:
        for i in range(40):
            index = int.from_bytes(hashlib.sha256(probe + bytes((i,))).digest(), "big", signed=True) % bits
            if not array[index >> 3] & (0x80 >> (index & 7)):
                return False
        return True

    samples = time_calls(bloom_probe, probes)  # no bit set: every probe misses at its first hash
    array[:] = b"\xff" * len(array)  # every bit set: a probe that passes does all 40 hashes
    full = time_calls(bloom_probe, probes)
    return [
        "Bloom filter, p = 1e-12, k = 40 (a pre-filter only: plus the exact store)",
        "7.2 (+ exact)",
        "72 MB (+ exact)",
        f"{percentile(samples, 0.5):.2f} (miss) / {percentile(full, 0.5):.2f} (pass)",
        f"{percentile(full, 0.9):.2f}",
    ]


# --- main -------------------------------------------------------------------------------------------


def child(argv: list[str]) -> None:
    if argv[0] == "load":
        print(json.dumps(load_and_look_up(Path(argv[1]), Path(argv[2]))))
    else:
        print(json.dumps(candidate(argv[1], int(argv[2]))))


def run_child(*argv: str) -> Any:
    output = subprocess.run(
        [sys.executable, __file__, "--child", *argv], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def parts_at(size: int, kids: int, unknown_percent: float) -> int:
    """The part files of ``size`` hashes spread as the bench spreads them (exact, no data)."""
    return sum(
        len(byte_ranges(count))
        for _, _, count in owners(size, [i.to_bytes(4, "big") for i in range(kids)], unknown_percent)
    )


def report(size: int, kids: int, unknown_percent: float, built: Built, result: dict[str, Any]) -> None:
    hashes = result["hashes"]
    print(
        f"### {hashes:,} hashes over {kids:,} kids + UNKNOWN_KID ({unknown_percent:g} %), {built.parts:,} part files\n"
    )
    memory = (result["rss_after_kib"] - result["rss_before_kib"]) * 1024
    print(
        table(
            ["measure", "value", "per hash"],
            [
                ["part files", f"{built.parts:,}", ""],
                ["parts, raw (as served)", f"{built.raw / 1e6:,.1f} MB", f"{built.raw / hashes:.2f} B"],
                ["parts, gzip -6 each", f"{built.gzipped / 1e6:,.1f} MB", f"{built.gzipped / hashes:.2f} B"],
                [
                    "manifest, canonical JSON / gzip -6 (its JWS: 4/3 of the JSON)",
                    f"{built.manifest_raw / 1e3:,.0f} / {built.manifest_gzipped / 1e3:,.0f} kB",
                    f"{built.manifest_raw / hashes:.3f} / {built.manifest_gzipped / hashes:.3f} B",
                ],
                ["load: json.loads of the manifest", f"{result['manifest_s']:.2f} s", ""],
                ["load: manifest + load_revoked_hashes", f"{result['load_s']:.2f} s", ""],
                ["RSS before loading (interpreter, modules)", f"{result['rss_before_kib'] / 1024:,.0f} MiB", ""],
                [
                    "RSS after loading (the store)",
                    f"{result['rss_after_kib'] / 1024:,.0f} MiB",
                    f"{memory / hashes:.1f} B (growth)",
                ],
                ["peak RSS of the process while loading (VmHWM)", f"{result['peak_kib'] / 1024:,.0f} MiB", ""],
            ],
        )
    )
    print()
    rows = [
        [name, f"{percentile(samples, 0.5):.2f}", f"{percentile(samples, 0.9):.2f}", f"{len(samples):,}"]
        for name, samples in result["timings"].items()
    ]
    print(table(["call (µs per call, one core)", "p50", "p90", "calls"], rows))
    print(f"\n(Building the data took {built.seconds:.0f} s.)\n")


def measured(built: Built, result: dict[str, Any]) -> dict[str, float]:
    """The quantities that grow with the count, of one size."""
    return {
        "raw": built.raw,
        "gzipped": built.gzipped,
        "manifest_raw": built.manifest_raw,
        "load_s": result["load_s"],
        "store_kib": result["rss_after_kib"] - result["rss_before_kib"],
    }


def extrapolate(kids: int, unknown_percent: float, summary: list[tuple[int, Built, dict[str, Any]]]) -> None:
    """80 M from the growth between the two largest sizes measured (from zero with one size)."""
    target = 80_000_000
    large, built, result = summary[-1]
    high = measured(built, result)
    if len(summary) > 1:
        small, *low_of = summary[-2]
        low = measured(*low_of)
    else:
        small, low = 0, dict.fromkeys(high, 0.0)
    at = {name: high[name] + (high[name] - low[name]) * (target - large) / (large - small) for name in high}
    # The manifest grows with the part files (one entry each), not with the hashes.
    parts = parts_at(target, kids, unknown_percent)
    small_parts = summary[-2][1].parts if len(summary) > 1 else 0
    if built.parts > small_parts:
        per_part = (high["manifest_raw"] - low["manifest_raw"]) / (built.parts - small_parts)
        at["manifest_raw"] = high["manifest_raw"] + per_part * (parts - built.parts)
    rows = [
        ["part files (exact, byte_ranges)", f"{parts:,}"],
        ["parts, raw", f"{at['raw'] / 1e9:.2f} GB, {at['raw'] / target:.2f} B/hash"],
        ["parts, gzip -6 each", f"{at['gzipped'] / 1e9:.2f} GB, {at['gzipped'] / target:.2f} B/hash"],
        ["manifest, canonical JSON (by its growth per part file)", f"{at['manifest_raw'] / 1e3:,.0f} kB"],
        ["load time", f"{at['load_s']:.0f} s"],
        ["RSS after loading", f"{(result['rss_before_kib'] + at['store_kib']) / 2**20:.2f} GiB"],
        ["growth of RSS per hash", f"{(high['store_kib'] - low['store_kib']) * 1024 / (large - small):.1f} B"],
    ]
    source = f"{small:,} and {large:,}" if small else f"zero and {large:,}"
    print(f"### Extrapolated to 80 million hashes over {kids:,} kids (the growth between {source})\n")
    print(table(["measure", "value"], rows))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="revoked hashes, comma-separated")
    parser.add_argument("--kids", type=int, default=1000)
    parser.add_argument("--unknown", type=float, default=1.0, help="percent of the hashes under UNKNOWN_KID")
    parser.add_argument("--codes", type=int, default=1000, help="codes to look up")
    parser.add_argument("--candidates", action="store_true", help="also measure other structures at the first size")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cpu = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})  # the children inherit it
    if args.child:
        child(args.child)
        return
    print("\n## Verifier SDK: revoked DCC hashes (published size, load, memory, lookup)\n")
    print("```")
    print(machine_description(cpu))
    print(f"CPU reference : {cpu_reference()}")
    print("```\n")
    sys.stdout.flush()
    sizes = [int(size) for size in args.sizes.split(",")]
    summary: list[tuple[int, Built, dict[str, Any]]] = []
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="revbench-") as folder:
            built = build(size, args.kids, args.unknown, args.codes, Path(folder))
            result = run_child("load", str(built.manifest_path), str(built.codes_path))
        report(size, args.kids, args.unknown, built, result)
        summary.append((size, built, result))
        sys.stdout.flush()
    if summary:
        extrapolate(args.kids, args.unknown, summary)
    if args.candidates:
        print(f"### Other structures, {sizes[0]:,} hashes\n")
        rows = [run_child("candidate", name, str(sizes[0])) for name in CANDIDATES]
        print(table(["structure", "B per hash (RSS)", "at 10 M", "p50 µs", "p90 µs"], rows))


if __name__ == "__main__":
    main()
