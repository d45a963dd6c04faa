"""Verifier SDK: evaluating the business rules of a country for one certificate, on one core.

    .venv/bin/python bench/rules_eval.py            # ~5 s
    .venv/bin/python bench/rules_eval.py --calls 5000

What is timed (``time.perf_counter_ns`` around each call, median and 95th percentile of
``--calls`` calls after 200 warm-up calls; CPU time per call from ``time.process_time`` over the
same calls), with the EU rules and value sets of tests/data/rules/business-rules at 2022-01-15,
when every AT, CH and DE rule there is in force:

- **every rule of the country**: each rule of CH (20), AT (16) or DE (11), whatever its
  certificate type, evaluated on one real-looking DCC (``verifier.rule_check.evaluate_rule`` on
  one ``{payload, external}``): the work of a country's whole rule set. Target: under 1 ms.
- **as the verifier does**: ``evaluate_rules``: selection (the version in force, the country's
  Acceptance rules for the type and General, the issuer's Invalidation rules), ``external``, and
  every selected rule, for a vaccination and a test certificate;
- **apply_rules** on a verified ``Result`` (adds the payload's JSON copy and the RULES step);
- **all 118 EU rules** of the data on one DCC, and loading them (JSON, checks, compiling each
  Logic), which is paid once per sync.

Nothing needs Django or a database; the machine description is built from bench/common.py's
parts, as bench/verify_hc1.py does.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import _cpu_model, _memory_gib, background_cpu_percent, code_state, cpu_reference, table
from verifier.rule_check import apply_rules, evaluate_rule, evaluate_rules, external_parameters
from verifier.rule_sources import rules_from_path, value_sets_from_file
from verifier.rules import RuleSet

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "rules" / "business-rules"
AT = dt.datetime(2022, 1, 15, 9, 0, tzinfo=dt.UTC)
TARGET_MS = 1.0
NAME = {"fn": "Musterfrau-Gößinger", "fnt": "MUSTERFRAU<GOESSINGER", "gn": "Gabriele", "gnt": "GABRIELE"}
VACCINATION = {
    "ver": "1.3.0",
    "nam": NAME,
    "dob": "1998-02-26",
    "v": [
        {
            "tg": "840539006",
            "vp": "1119349007",
            "mp": "EU/1/20/1528",
            "ma": "ORG-100030215",
            "dn": 3,
            "sd": 3,
            "dt": "2021-12-20",
            "co": "AT",
            "is": "Ministry of Health, Austria",
            "ci": "URN:UVCI:01:AT:10807843F94AEE0EE5093FBC254BD813#B",
        }
    ],
}
TEST = {
    "ver": "1.3.0",
    "nam": NAME,
    "dob": "1998-02-26",
    "t": [
        {
            "tg": "840539006",
            "tt": "LP217198-3",
            "ma": "1232",
            "sc": "2022-01-14T17:34:56+01:00",
            "tr": "260415000",
            "tc": "Testing center Vienna 1",
            "co": "AT",
            "is": "Ministry of Health, Austria",
            "ci": "URN:UVCI:01:AT:B5921A35D6A0D696421B3E2462178297#I",
        }
    ],
}


def machine_description(cpu: int) -> str:
    rows = [
        ("CPU", _cpu_model()),
        ("Cores (logical)", str(os.cpu_count())),
        ("Cores usable", str(len(os.sched_getaffinity(0)))),
        ("Pinned to CPU", str(cpu)),
        ("RAM", _memory_gib()),
        ("Load average (1/5/15 min)", " / ".join(f"{value:.2f}" for value in os.getloadavg())),
        ("CPU busy just before the run", f"{background_cpu_percent():.0%} of all cores (1 s sample)"),
        ("CPU speed reference", cpu_reference()),
        ("OS", platform.platform()),
        ("Python", f"{platform.python_implementation()} {platform.python_version()}"),
        ("Code", code_state()),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)} : {value}" for name, value in rows)


def measure(function: Callable[[], object], calls: int) -> tuple[float, float, float]:
    """Median and p95 wall µs per call, and CPU µs per call."""
    for _ in range(200):
        function()
    samples = []
    clock = time.perf_counter_ns
    cpu_start = time.process_time()
    for _ in range(calls):
        start = clock()
        function()
        samples.append(clock() - start)
    cpu = (time.process_time() - cpu_start) / calls * 1e6
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(len(samples) * 0.95)] / 1000, cpu


def row(case: str, rules: int, figures: tuple[float, float, float]) -> list[str]:
    median, p95, cpu = figures
    return [case, str(rules), f"{median:.0f}", f"{p95:.0f}", f"{cpu:.0f}", f"{median / 1000:.3f}"]


def _verified_result():
    """A real verified Result of the vaccination DCC (key and DSC made here)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from verifier.hcert import verify_hc1
    from verifier.issue import issue_hc1
    from verifier.trust import TrustStore

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "AT"), x509.NameAttribute(NameOID.COMMON_NAME, "DSC")])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(AT - dt.timedelta(days=100))
        .not_valid_after(AT + dt.timedelta(days=600))
        .sign(key, hashes.SHA256())
    )
    text = issue_hc1(
        VACCINATION, certificate, key, iat=AT - dt.timedelta(days=1), exp=AT + dt.timedelta(days=300), issuer="AT"
    )
    result = verify_hc1(text, TrustStore.from_certificates([certificate]), AT)
    assert result.valid, result
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000, help="timed calls per case")
    args = parser.parse_args()
    cpu = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {cpu})
    print("\n## Verifier SDK: business rules of a country for one certificate\n")
    print("```")
    print(machine_description(cpu))
    print("```\n")
    sys.stdout.flush()

    load_ms = []
    for _ in range(5):
        started = time.perf_counter()
        rules, issues = rules_from_path(DATA)
        load_ms.append((time.perf_counter() - started) * 1000)
    value_sets, more = value_sets_from_file(DATA / "valuesets" / "valueSets.json")
    assert not issues, issues
    assert not more, more
    rule_set = RuleSet(rules, value_sets)
    external = external_parameters(AT, value_sets, "CH", AT.timestamp() - 86400, AT.timestamp() + 86400 * 300)

    rows = []
    worst_country_ms = 0.0
    for country in ("CH", "AT", "DE"):
        mine = [rule for rule in rules if rule.country == country and rule.in_force(AT)]
        data = {"payload": VACCINATION, "external": {**external, "countryCode": country}}
        outcomes = [evaluate_rule(rule, data) for rule in mine]
        assert all(outcome.reason.value in ("RULE_PASSED", "RULE_NOT_SATISFIED") for outcome in outcomes), outcomes
        figures = measure(lambda mine=mine, data=data: [evaluate_rule(rule, data) for rule in mine], args.calls)
        worst_country_ms = max(worst_country_ms, figures[0] / 1000)
        rows.append(row(f"every rule of {country} (all types), vaccination DCC", len(mine), figures))
    for country, payload, kind in (("AT", VACCINATION, "v"), ("AT", TEST, "t"), ("DE", VACCINATION, "v")):
        selected = len(rule_set.select(country, "AT", kind, AT))

        def as_the_verifier_does(country=country, payload=payload, kind=kind):
            return evaluate_rules(rule_set, payload, kind, arrival=country, issuing="AT", at=AT)

        label = {"v": "vaccination", "t": "test"}[kind]
        rows.append(
            row(
                f"evaluate_rules: {country}, {label} DCC (selection included)",
                selected,
                measure(as_the_verifier_does, args.calls),
            )
        )
    verified = _verified_result()
    selected = len(rule_set.select("AT", "AT", "v", AT))
    rows.append(
        row(
            "apply_rules: AT, on a verified Result",
            selected,
            measure(lambda: apply_rules(verified, rule_set, "AT", AT), args.calls),
        )
    )
    every = [rule for rule in rules if rule.in_force(AT)]
    data = {"payload": VACCINATION, "external": external}
    rows.append(
        row(
            "all EU rules of the data, vaccination DCC",
            len(every),
            measure(lambda: [evaluate_rule(r, data) for r in every], max(args.calls // 5, 200)),
        )
    )

    print(f"### Rule evaluation at {AT.isoformat()}, one core ({args.calls:,} timed calls per case)\n")
    print(table(["case", "rules", "median µs", "p95 µs", "CPU µs/call", "median ms"], rows))
    verdict = "met" if worst_country_ms < TARGET_MS else "NOT met"
    print(f"\nTarget < {TARGET_MS:g} ms for every rule of a country (the slowest country's median): {verdict}.")
    print(
        f"\nLoading the {len(rules)} rules (JSON, checks, compiling each Logic; once per sync):"
        f" min {min(load_ms):.1f} ms, median {statistics.median(load_ms):.1f} ms.\n"
    )


if __name__ == "__main__":
    main()
