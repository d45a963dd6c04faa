"""Verifier SDK: HC1 verifications per second on one core, against OpenSSL's ECDSA P-256 ceiling,
and the time to load and index a synced trust list of 10,000 DSCs.

    .venv/bin/python bench/verify_hc1.py                # ~30 s
    .venv/bin/python bench/verify_hc1.py --profile      # plus cProfile of the verify loop

What is timed:

- **Full verification**: ``verifier.hcert.verify_hc1`` on an ``HC1:`` text (a vaccination DCC, ES256,
  ~600 characters, like the EU test vector CO3) -- prefix, Base45, inflate, COSE, signature, claims,
  time checks, key usage, revocation -- against a trust store of 10,000 DSCs, every result checked
  to be valid. The process is pinned to one CPU; the rate is verifications per CPU second
  (``time.process_time``), as ``openssl speed`` divides by CPU time by default; the wall-clock rate
  is printed beside it.
- **Ceiling**: ``openssl speed -seconds S ecdsap256`` (verify/s column), run in the same process
  tree on the same pinned CPU before and after the Python loop; the higher of the two is the
  ceiling, so the ratio is the conservative one. Target: at least 60 % (issue 17), aiming for 70 %.
- **Trust list load**: a trust list payload in the published format (docs/publication-format.md)
  with 10,000 DSC entries (each a distinct certificate and key) plus CSCA entries, as JSON bytes:
  ``json.loads`` + ``TrustStore.from_trust_list_payload``, and the indexing alone. Target < 100 ms.

Nothing needs Django or a database; the machine description is built from bench/common.py's parts
(its ``machine_description()`` describes the gateway's database too, which needs Django).
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from bench.common import (
    Profiler,
    _cpu_model,
    _memory_gib,
    background_cpu_percent,
    code_state,
    table,
)
from verifier import cose
from verifier.decode import base45_decode, decode_claims, inflate, unprefix
from verifier.encoding import canonical_json, format_time
from verifier.hcert import verify_hc1
from verifier.issue import issue_hc1
from verifier.trust import TrustStore, kid_of
from verifier.usages import ALL_USAGES, ordered

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
DCC = {
    "ver": "1.3.0",
    "nam": {"fn": "Musterfrau-Gößinger", "fnt": "MUSTERFRAU<GOESSINGER", "gn": "Gabriele", "gnt": "GABRIELE"},
    "dob": "1998-02-26",
    "v": [
        {
            "tg": "840539006",
            "vp": "1119349007",
            "mp": "EU/1/20/1528",
            "ma": "ORG-100030215",
            "dn": 1,
            "sd": 2,
            "dt": "2026-02-18",
            "co": "AT",
            "is": "Ministry of Health, Austria",
            "ci": "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B",
        }
    ],
}
COUNTRIES = [f"X{chr(ord('A') + i)}" for i in range(26)] + ["AT", "DE", "FR", "IT", "NL", "SE"]


# --- machine --------------------------------------------------------------------------------------


def _version(module: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(module)
    except PackageNotFoundError:
        return "not installed"


def machine_description(cpu: int) -> str:
    import cryptography
    from cryptography.hazmat.backends.openssl.backend import backend

    system_openssl = subprocess.run(["openssl", "version"], capture_output=True, text=True, check=False).stdout
    rows = [
        ("CPU", _cpu_model()),
        ("Cores (logical)", str(os.cpu_count())),
        ("Cores usable", str(len(os.sched_getaffinity(0)))),
        ("Pinned to CPU", str(cpu)),
        ("RAM", _memory_gib()),
        ("Load average (1/5/15 min)", " / ".join(f"{value:.2f}" for value in os.getloadavg())),
        ("CPU busy just before the run", f"{background_cpu_percent():.0%} of all cores (1 s sample)"),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("cryptography", f"{cryptography.__version__} ({backend.openssl_version_text()})"),
        ("System openssl (ceiling)", system_openssl.strip()),
        ("cbor2 / zxing-cpp / segno", f"{_version('cbor2')} / {_version('zxing-cpp')} / {_version('segno')}"),
        ("Code", code_state()),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)} : {value}" for name, value in rows)


# --- data ------------------------------------------------------------------------------------------


def certificate(key, subject: str, country: str, serial: int, *, issuer_key=None, issuer=None) -> x509.Certificate:
    name = x509.Name(
        [x509.NameAttribute(NameOID.COUNTRY_NAME, country), x509.NameAttribute(NameOID.COMMON_NAME, subject)]
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - dt.timedelta(days=365))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .sign(issuer_key or key, hashes.SHA256())
    )


def entry(cert: x509.Certificate, kind: str, country: str, issuer: str) -> dict:
    der = cert.public_bytes(Encoding.DER)
    return {
        "type": kind,
        "country": country,
        "kid": base64.b64encode(kid_of(der)).decode(),
        "thumbprint": hashlib.sha256(der).hexdigest(),
        "certificate": base64.b64encode(der).decode(),
        "notBefore": format_time(cert.not_valid_before_utc),
        "notAfter": format_time(cert.not_valid_after_utc),
        "usages": ordered(ALL_USAGES) if kind == "DSC" else [],  # no EKU: every type
        "domain": "DCC",
        "group": kind,
        "issuer": issuer,
    }


def trust_list(dscs: int) -> tuple[bytes, ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A trust list payload (JSON bytes) of ``dscs`` DSCs, the first being the signer's."""
    cscas = {}
    entries = []
    for country in COUNTRIES:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = certificate(key, f"{country} CSCA", country, 1)
        cscas[country] = (key, cert, hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest())
        entries.append(entry(cert, "CSCA", country, ""))
    signer_key = signer_cert = None
    for index in range(dscs):
        country = COUNTRIES[index % len(COUNTRIES)]
        csca_key, csca_cert, csca_thumbprint = cscas[country]
        key = ec.generate_private_key(ec.SECP256R1())
        cert = certificate(
            key, f"{country} DSC {index}", country, index + 2, issuer_key=csca_key, issuer=csca_cert.subject
        )
        entries.append(entry(cert, "DSC", country, csca_thumbprint))
        if index == 0:
            signer_key, signer_cert = key, cert
    entries.sort(key=lambda e: (e["country"], e["type"], e["thumbprint"]))
    payload = {
        "type": "trust-list",
        "version": 1,
        "sequence": 42,
        "issuedAt": format_time(NOW),
        "entries": entries,
    }
    data = canonical_json(payload)
    assert signer_key is not None
    assert signer_cert is not None
    return data, signer_key, signer_cert


# --- measurements ----------------------------------------------------------------------------------


def openssl_ecdsa_p256(seconds: int) -> float:
    """verify/s from ``openssl speed -seconds S ecdsap256`` (CPU time, its default)."""
    output = subprocess.run(
        ["openssl", "speed", "-seconds", str(seconds), "ecdsap256"], capture_output=True, text=True, check=True
    ).stdout
    for line in output.splitlines():
        match = re.search(r"256 bits ecdsa \(nistp256\)\s+\S+s\s+\S+s\s+([\d.]+)\s+([\d.]+)", line)
        if match:
            return float(match.group(2))
    raise RuntimeError(f"no ecdsa (nistp256) line in:\n{output}")


def rate(function, seconds: float) -> tuple[float, float, int]:
    """(per CPU second, per wall second, calls) of ``function`` run for ``seconds`` of CPU time."""
    for _ in range(50):
        function()
    calls = 0
    cpu_start, wall_start = time.process_time(), time.perf_counter()
    batch = 200
    while True:
        for _ in range(batch):
            function()
        calls += batch
        cpu = time.process_time() - cpu_start
        if cpu >= seconds:
            break
    wall = time.perf_counter() - wall_start
    return calls / cpu, calls / wall, calls


def per_call_us(function, number: int = 2000, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        for _ in range(number):
            function()
        best = min(best, time.process_time() - start)
    return best / number * 1e6


def timed_ms(function, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append((time.perf_counter() - start) * 1000)
    return min(samples), statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3, help="CPU seconds per rate measurement (openssl too)")
    parser.add_argument("--dscs", type=int, default=10_000, help="DSCs in the trust list")
    parser.add_argument("--repeat", type=int, default=10, help="trust list loads to time")
    parser.add_argument("--profile", action="store_true", help="profile the verify loop with cProfile")
    args = parser.parse_args()

    cpu = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})  # openssl, started below, inherits it
    print("\n## Verifier SDK: HC1 verification rate and trust list load\n")
    print("```")
    print(machine_description(cpu))
    print("```\n")
    sys.stdout.flush()

    started = time.perf_counter()
    data, signer_key, signer_cert = trust_list(args.dscs)
    made = time.perf_counter() - started

    # Trust list load and index.
    payload = json.loads(data)
    store = TrustStore.from_trust_list_payload(payload)
    assert len(store) == args.dscs, len(store)
    assert not store.skipped, store.skipped[:3]
    parse_min, parse_median = timed_ms(lambda: TrustStore.from_trust_list_payload(json.loads(data)), args.repeat)
    index_min, index_median = timed_ms(lambda: TrustStore.from_trust_list_payload(payload), args.repeat)
    entries = len(payload["entries"])
    print(f"### Trust list load ({args.dscs:,} DSCs + {entries - args.dscs} CSCAs, {len(data) / 1e6:.1f} MB JSON)\n")
    print(
        table(
            ["step", "min ms", "median ms", "target"],
            [
                [
                    "json.loads + TrustStore.from_trust_list_payload",
                    f"{parse_min:.1f}",
                    f"{parse_median:.1f}",
                    "< 100 ms",
                ],
                [
                    "TrustStore.from_trust_list_payload (parsed dict)",
                    f"{index_min:.1f}",
                    f"{index_median:.1f}",
                    "< 100 ms",
                ],
            ],
        )
    )
    verdict = "met" if parse_median < 100 else "MISSED"
    print(f"\nTarget < 100 ms for the synced list (JSON bytes to index): {verdict}.")
    print(f"(Building the list took {made:.1f} s.)\n")
    sys.stdout.flush()

    # The certificate to verify, and a check that it verifies against the 10,000-DSC store.
    text = issue_hc1(
        DCC, signer_cert, signer_key, iat=NOW - dt.timedelta(days=1), exp=NOW + dt.timedelta(days=180), issuer="XA"
    )
    result = verify_hc1(text, store, NOW)
    assert result.valid, result.to_dict()

    def verify_once() -> None:
        if not verify_hc1(text, store, NOW).valid:
            raise AssertionError("a verification failed")

    ceiling_before = openssl_ecdsa_p256(args.seconds)
    with Profiler(args.profile, "the verify_hc1 loop"):
        per_cpu, per_wall, calls = rate(verify_once, args.seconds)
    ceiling_after = openssl_ecdsa_p256(args.seconds)
    ceiling = max(ceiling_before, ceiling_after)

    # Where the time goes (CPU µs per call, best of 5).
    body = unprefix(text)
    compressed = base45_decode(body)
    cose_bytes = inflate(compressed)
    message = cose.parse(cose_bytes)
    dsc = store.candidates(message.kid)[0]
    key, alg, _ = dsc.verification_key()
    to_be_signed = cose.sig_structure(message.protected_bytes, message.payload)
    stages = [
        ("UNPREFIX + B45DECODE", per_call_us(lambda: base45_decode(unprefix(text)))),
        ("COMPRESSION (zlib, 64 KiB cap)", per_call_us(lambda: inflate(compressed))),
        ("COSE parse", per_call_us(lambda: cose.parse(cose_bytes))),
        (
            "VERIFY: ECDSA P-256 (cryptography)",
            per_call_us(lambda: cose.verify(alg, key, message.signature, to_be_signed)),
        ),
        ("CLAIMS: CWT + DCC decode", per_call_us(lambda: decode_claims(message.payload))),
        ("full verify_hc1", 1e6 / per_cpu),
    ]

    # PS256 for comparison (RSA-2048).
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rsa_cert = certificate(rsa_key, "RSA DSC", "XA", 7)
    rsa_store = TrustStore.from_certificates([rsa_cert])
    rsa_text = issue_hc1(
        DCC, rsa_cert, rsa_key, iat=NOW - dt.timedelta(days=1), exp=NOW + dt.timedelta(days=180), issuer="XA"
    )
    assert verify_hc1(rsa_text, rsa_store, NOW).valid
    ps256_per_cpu = 1e6 / per_call_us(lambda: verify_hc1(rsa_text, rsa_store, NOW), number=1000)
    raw_per_cpu, _, _ = rate(lambda: cose.verify(alg, key, message.signature, to_be_signed), args.seconds)

    print(f"### Full HC1 verification, one core ({len(text)}-character HC1, {len(cose_bytes)}-byte COSE, ES256)\n")
    print(
        table(
            ["measure", "verifications/s", "share of OpenSSL"],
            [
                [
                    "openssl speed ecdsap256 verify (before / after; ceiling = max)",
                    f"{ceiling_before:,.0f} / {ceiling_after:,.0f}",
                    "100 %",
                ],
                ["cryptography raw ECDSA P-256 verify", f"{raw_per_cpu:,.0f}", f"{raw_per_cpu / ceiling:.0%}"],
                [
                    f"**verify_hc1, full path** (CPU time, {calls:,} calls)",
                    f"**{per_cpu:,.0f}**",
                    f"**{per_cpu / ceiling:.0%}**",
                ],
                ["verify_hc1, full path (wall clock)", f"{per_wall:,.0f}", f"{per_wall / ceiling:.0%}"],
                ["verify_hc1, PS256 RSA-2048 (CPU time)", f"{ps256_per_cpu:,.0f}", "-"],
            ],
        )
    )
    print()
    print(table(["stage", "CPU µs per call"], [[name, f"{value:.1f}"] for name, value in stages]))
    ratio = per_cpu / ceiling
    verdict = "met" if ratio >= 0.6 else "MISSED"
    print(f"\nRatio to OpenSSL's ECDSA P-256 verify rate: {ratio:.1%} (target >= 60 %, aim 70 %: {verdict}).")


if __name__ == "__main__":
    main()
