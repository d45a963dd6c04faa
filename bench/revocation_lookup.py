"""Verifier SDK: revoked DCC hashes at scale -- serialized size, load time, memory, lookup.

    .venv/bin/python bench/revocation_lookup.py                 # 1 M and 10 M over 1,000 kids, ~3 min
    .venv/bin/python bench/revocation_lookup.py --sizes 1000000 --candidates

What is measured, per configuration (random 16-byte hashes generated in-process, a third of each
hash type, 1 % under UNKNOWN_KID from three countries, the rest spread evenly over the kids):

- **Size**: every partition file (verifier/revocation_partition.py) as written, raw and
  gzip-compressed (level 6, one stream over all files: what a full download serves), bytes per hash.
- **Load**: in a fresh process, reading the files from one temporary file, then
  ``RevokedHashes.from_partitions`` (parse, check the order of every run, index); resident memory
  (VmRSS) before and after, and the peak (VmHWM).
- **Lookup**: codes issued by DSCs whose kids are in the store (ES256, a random ci each), 10 %
  revoked by UCI and 10 % by SIGNATURE. Per call, ``time.perf_counter_ns``, p50/p90 over every code
  and 5 rounds: the lookup alone (``RevokedHashes.match`` on the code's hashes), the REVOCATION
  step's DCC part as ``verify_hc1`` runs it (``checks.check_dcc_revocation``: hashing + lookup),
  and the whole ``verify_hc1`` with and without the store. Every result is checked.
- ``--candidates``: the same hashes in other structures (a set of 16-byte ``bytes``, a sorted
  list of 15-byte ``bytes`` per partition with ``bisect``), memory and lookup, and the probe cost
  of the EU distribution service's Bloom filter (k = 40 SHA-256 per hash, p = 1e-12).

The process is pinned to one CPU. 80 million is extrapolated linearly for sizes and memory; its
lookup is measured at its density (80,000 hashes per kid) with ``--sizes 8000000 --kids 100``.
"""

from __future__ import annotations

import argparse
import base64
import bisect
import datetime as dt
import gc
import hashlib
import json
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from bench.common import cpu_reference, table
from bench.verify_hc1 import DCC, NOW, certificate, machine_description
from verifier import cose
from verifier.checks import check_dcc_revocation
from verifier.decode import decode_claims, hc1_to_cose
from verifier.hcert import verify_hc1
from verifier.issue import issue_hc1
from verifier.reasons import HcertError, Reason
from verifier.revocation_hashes import CodeHash, HashType, code_hashes
from verifier.revocation_partition import TYPES, UNKNOWN_KID, encode_partitions
from verifier.revoked_hashes import RevokedHashes
from verifier.trust import TrustStore, kid_of

DSCS = 20  # kids with a real DSC, to issue codes with; the other kids are random bytes
COUNTRIES = ["AT", "BE", "DE", "FR", "IT", "NL", "PL", "SE"]
UNKNOWN_COUNTRIES = ["DE", "FR", "IT"]
_LENGTH = struct.Struct(">I")


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


# --- building (parent process) ---------------------------------------------------------------------


def build(size: int, kids: int, codes: int, folder: Path) -> tuple[Path, Path, int, int, float]:
    """Write the partitions of ``size`` hashes to one file, the codes to look up to another.
    Returns (partitions file, codes file, raw bytes, gzip bytes, seconds to build)."""
    started = time.perf_counter()
    rng = random.Random(size)
    dscs = []
    for index in range(DSCS):
        key = ec.generate_private_key(ec.SECP256R1())
        dscs.append((key, certificate(key, f"DSC {index}", COUNTRIES[index % len(COUNTRIES)], index + 1)))
    texts, revoked = [], {}
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
            listed.setdefault(message.kid, []).append((chosen.hash_type, chosen.digest))
            revoked[index] = chosen.hash_type.name
    kid_list = [kid_of(cert.public_bytes(Encoding.DER)) for _, cert in dscs]
    kid_list += [rng.randbytes(8) for _ in range(kids - DSCS)]
    unknown = size // 100
    per_kid, extra = divmod(size - unknown, kids)
    raw = 0
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip
    gzip_size = 0
    partitions_path = folder / f"partitions-{size}.bin"
    owners = [(kid, COUNTRIES[i % len(COUNTRIES)], per_kid + (i < extra)) for i, kid in enumerate(kid_list)]
    owners += [(UNKNOWN_KID, country, unknown // len(UNKNOWN_COUNTRIES)) for country in UNKNOWN_COUNTRIES]
    with partitions_path.open("wb") as out:
        for kid, country, count in owners:
            digests = random_digests(count, rng)
            entries = [(TYPES[i % 3], digest) for i, digest in enumerate(digests)]
            if kid != UNKNOWN_KID:
                entries += listed.get(kid, [])  # type: ignore[call-overload]
            for data in encode_partitions(country, kid, entries).values():
                raw += len(data)
                out.write(_LENGTH.pack(len(data)))
                out.write(data)
                gzip_size += len(compressor.compress(data))
    gzip_size += len(compressor.flush())
    codes_path = folder / f"codes-{size}.json"
    certificates = [base64.b64encode(cert.public_bytes(Encoding.DER)).decode() for _, cert in dscs]
    codes_path.write_text(json.dumps({"certificates": certificates, "texts": texts, "revoked": revoked}))
    return partitions_path, codes_path, raw, gzip_size, time.perf_counter() - started


# --- loading and looking up (child process) ---------------------------------------------------------


def read_partitions(path: Path) -> list[bytes]:
    data = path.read_bytes()
    files, offset = [], 0
    while offset < len(data):
        (length,) = _LENGTH.unpack_from(data, offset)
        files.append(data[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return files


def time_calls(function, arguments: list, rounds: int = 5) -> list[float]:
    """µs per call, every call timed on its own."""
    samples = []
    clock = time.perf_counter_ns
    for _ in range(rounds):
        for argument in arguments:
            start = clock()
            function(argument)
            samples.append((clock() - start) / 1000)
    return samples


def load_and_look_up(partitions_path: Path, codes_path: Path) -> dict:
    before = rss_kib()
    started = time.perf_counter()
    files = read_partitions(partitions_path)
    read = time.perf_counter() - started
    store = RevokedHashes.from_partitions(files)
    loaded = time.perf_counter() - started
    count = len(files)
    del files
    gc.collect()
    after = rss_kib()

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

    def step(item) -> None:
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
        "partitions": count,
        "read_s": read,
        "load_s": loaded,
        "rss_before_kib": before,
        "rss_after_kib": after,
        "peak_kib": rss_kib("VmHWM"),
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


def candidates(size: int) -> list[list[str]]:
    rng = random.Random(7)
    digests = random_digests(size, rng)
    probes = digests[:2000] + random_digests(2000, rng)
    rows = []

    def measure(name: str, build_structure, look_up) -> None:
        gc.collect()
        before = rss_kib()
        built = build_structure()
        gc.collect()
        grown = (rss_kib() - before) * 1024
        samples = time_calls(lambda probe: look_up(built, probe), probes)
        rows.append(
            [
                name,
                f"{grown / size:.1f}",
                f"{grown * 10 / 1e6:,.0f} MB",
                f"{percentile(samples, 0.5):.2f}",
                f"{percentile(samples, 0.9):.2f}",
            ]
        )

    measure("set of 16-byte bytes", lambda: set(digests), lambda s, probe: probe in s)

    def sorted_lists():
        lists: list[list[bytes]] = [[] for _ in range(256)]
        for digest in digests:
            lists[digest[0]].append(digest[1:])
        for partition in lists:
            partition.sort()
        return lists

    def bisect_lookup(lists, probe):
        partition = lists[probe[0]]
        key = probe[1:]
        index = bisect.bisect_left(partition, key)
        return index < len(partition) and partition[index] == key

    measure("sorted lists of 15-byte bytes, bisect", sorted_lists, bisect_lookup)
    partitions = encode_partitions("AT", b"kid00001", [(HashType.UCI, digest) for digest in digests])
    code_probes = {probe: (CodeHash(HashType.UCI, probe),) for probe in probes}
    measure(
        "RevokedHashes, one hash (all in one kid: the densest partitions)",
        lambda: RevokedHashes.from_partitions(partitions.values()),
        lambda store, probe: store.match(b"kid00001", code_probes[probe]),
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

    samples = time_calls(lambda probe: bloom_probe(probe), [rng.randbytes(16) for _ in range(2000)])
    array[:] = b"\xff" * len(array)  # every bit set: a probe that passes does all 40 hashes
    full = time_calls(lambda probe: bloom_probe(probe), probes[:2000])
    rows.append(
        [
            "Bloom filter, p = 1e-12, k = 40 (a pre-filter only: plus the exact store)",
            "7.2 (+ exact)",
            "72 MB (+ exact)",
            f"{percentile(samples, 0.5):.2f} (miss) / {percentile(full, 0.5):.2f} (pass)",
            f"{percentile(full, 0.9):.2f}",
        ]
    )
    return rows


# --- main -------------------------------------------------------------------------------------------


def child(argv: list[str]) -> None:
    if argv[0] == "load":
        print(json.dumps(load_and_look_up(Path(argv[1]), Path(argv[2]))))
    else:
        print(json.dumps(candidates(int(argv[1]))))


def run_child(*argv: str) -> object:
    output = subprocess.run(
        [sys.executable, __file__, "--child", *argv], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000000,10000000", help="revoked hashes, comma-separated")
    parser.add_argument("--kids", type=int, default=1000)
    parser.add_argument("--codes", type=int, default=1000, help="codes to look up")
    parser.add_argument("--candidates", action="store_true", help="also measure other structures at the first size")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    cpu = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})  # the children inherit it
    if args.child:
        child(args.child)
        return
    print("\n## Verifier SDK: revoked DCC hashes (size, load, memory, lookup)\n")
    print("```")
    print(machine_description(cpu))
    print(f"CPU reference : {cpu_reference()}")
    print("```\n")
    sys.stdout.flush()
    sizes = [int(size) for size in args.sizes.split(",")]
    summary = []
    with tempfile.TemporaryDirectory(prefix="revbench-") as folder:
        for size in sizes:
            partitions_path, codes_path, raw, gzipped, built = build(size, args.kids, args.codes, Path(folder))
            result = run_child("load", str(partitions_path), str(codes_path))
            assert isinstance(result, dict)
            partitions_path.unlink()
            hashes = result["hashes"]
            print(
                f"### {hashes:,} hashes over {args.kids:,} kids + UNKNOWN_KID ({result['partitions']:,} partitions)\n"
            )
            memory = (result["rss_after_kib"] - result["rss_before_kib"]) * 1024
            print(
                table(
                    ["measure", "value", "per hash"],
                    [
                        ["serialized, raw", f"{raw / 1e6:,.1f} MB", f"{raw / hashes:.2f} B"],
                        ["serialized, gzip -6", f"{gzipped / 1e6:,.1f} MB", f"{gzipped / hashes:.2f} B"],
                        ["load: read the files", f"{result['read_s']:.2f} s", ""],
                        ["load: read + parse + check + index", f"{result['load_s']:.2f} s", ""],
                        ["RSS before loading", f"{result['rss_before_kib'] / 1024:,.0f} MiB", ""],
                        [
                            "RSS after loading (files freed)",
                            f"{result['rss_after_kib'] / 1024:,.0f} MiB",
                            f"{memory / hashes:.1f} B",
                        ],
                        ["peak RSS while loading (VmHWM)", f"{result['peak_kib'] / 1024:,.0f} MiB", ""],
                    ],
                )
            )
            print()
            rows = [
                [name, f"{percentile(samples, 0.5):.2f}", f"{percentile(samples, 0.9):.2f}", f"{len(samples):,}"]
                for name, samples in result["timings"].items()
            ]
            print(table(["call (µs per call, one core)", "p50", "p90", "calls"], rows))
            print(f"\n(Building the data took {built:.0f} s.)\n")
            summary.append((hashes, raw, gzipped, result))
            sys.stdout.flush()
        if summary:
            hashes, raw, gzipped, result = summary[-1]
            memory = result["rss_after_kib"] * 1024
            scale = 80_000_000 / hashes
            print("### Extrapolated to 80 million hashes (linear in the count)\n")
            print(
                table(
                    ["measure", "value"],
                    [
                        ["serialized, raw", f"{raw * scale / 1e9:.2f} GB"],
                        ["serialized, gzip -6", f"{gzipped * scale / 1e9:.2f} GB"],
                        ["RSS after loading", f"{memory * scale / 2**30:.2f} GiB"],
                        ["load time", f"{result['load_s'] * scale:.0f} s"],
                    ],
                )
            )
            print()
        if args.candidates:
            print(f"### Other structures, {sizes[0]:,} hashes in one partition set\n")
            rows = run_child("candidates", str(sizes[0]))
            assert isinstance(rows, list)
            print(table(["structure", "B per hash (RSS)", "at 10 M", "p50 µs", "p90 µs"], rows))


if __name__ == "__main__":
    main()
