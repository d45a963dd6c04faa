"""The verifier against the EU DCC conformance test data (tests/data/dcc, Apache-2.0: see its README).

Every JSON case is verified from its ``PREFIX`` (the ``HC1:`` text), its ``2DCODE`` (the QR
image) and, as trust store, its ``TESTCTX.CERTIFICATE`` at ``TESTCTX.VALIDATIONCLOCK``. Each
EXPECTED* flag a case carries is compared with the outcome of the step it names:

======================= ==============================================================================
flag                    the verifier agrees with ``true`` when
======================= ==============================================================================
EXPECTEDPICTUREDECODE   ``decode_qr_image(2DCODE)`` reads exactly ``PREFIX``
EXPECTEDUNPREFIX        the UNPREFIX step passes (and leaves ``BASE45``, when given)
EXPECTEDB45DECODE       the B45DECODE step passes (and gives ``COMPRESSED``, when given)
EXPECTEDCOMPRESSION     the COMPRESSION step passes (and gives ``COSE``, when given)
EXPECTEDDECODE          the COSE and CLAIMS steps pass, the DCC equals ``JSON`` and the file's
                        ``CBOR`` (whole claims or DCC only) when given, as the reference runner checks
EXPECTEDVERIFY          the VERIFY step passes
EXPECTEDEXPIRATIONCHECK the EXPIRATIONCHECK step passes (default DSC validity policy)
EXPECTEDKEYUSAGE        the KEYUSAGE step passes
======================= ==============================================================================

and with ``false`` when that does not hold. A flag whose input is missing from the case (no
``2DCODE``, no certificate) is counted as not applicable. Flags of steps the verifier core does
not implement are listed in NOT_IMPLEMENTED, and deliberate divergences in DIVERGENCES (both are
documented in docs/verifier-conformance.md). Nothing in the verifier knows a case by name.
"""

from __future__ import annotations

import base64
import binascii
import collections
import datetime as dt
import functools
import json
import re
from pathlib import Path
from typing import Any

import cbor2
import pytest

from verifier.decode import base45_decode, inflate, unprefix
from verifier.hcert import verify_hc1
from verifier.qr import QrError, decode_qr_image
from verifier.reasons import HcertError, Status, Step
from verifier.trust import TrustStore

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

# The public test cases live in the repository (with their licence), so a clone tests them alone.
DATA = Path(__file__).resolve().parents[1] / "data" / "dcc"
FILES = sorted(DATA.rglob("*.json"))

IMPLEMENTED = (
    "EXPECTEDPICTUREDECODE",
    "EXPECTEDUNPREFIX",
    "EXPECTEDB45DECODE",
    "EXPECTEDCOMPRESSION",
    "EXPECTEDDECODE",
    "EXPECTEDVERIFY",
    "EXPECTEDEXPIRATIONCHECK",
    "EXPECTEDKEYUSAGE",
)
NOT_IMPLEMENTED = {
    "EXPECTEDSCHEMAVALIDATION": "JSON Schema validation of the DCC is not part of the verifier core",
    "EXPECTEDVALIDJSON": "compares the file's CBOR and JSON fields with each other: test data consistency",
    "EXPECTEDENCODE": "issuer-side encoding check",
    "EXPECTEDVALIDOBJECT": "not read by the reference runner; no defined step",
    "EXPTECTEDEXPIRED": "misspelt flag (BG); not read by the reference runner; no defined step",
}
# (case path relative to the data folder, flag) -> why the verifier deliberately disagrees.
# A divergence that stops diverging fails the test, so this table cannot go stale.
DIVERGENCES: dict[tuple[str, str], str] = {}


def _case_id(path: Path) -> str:
    return path.relative_to(DATA).as_posix()


def _clock(text: str) -> dt.datetime:
    """ISO 8601 as the cases write it: 'Z' or +hh:mm or +hhmm or none (UTC), 0-9 fraction digits."""
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:?\d\d)?", text.strip())
    if not match:
        raise ValueError(f"unreadable VALIDATIONCLOCK {text!r}")
    stamp, fraction, zone = match.groups()
    moment = dt.datetime.fromisoformat(stamp).replace(microsecond=int((fraction or "0")[:6].ljust(6, "0")))
    if zone in (None, "Z"):
        return moment.replace(tzinfo=dt.UTC)
    sign = 1 if zone[0] == "+" else -1
    digits = zone[1:].replace(":", "")
    offset = dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return moment.replace(tzinfo=dt.timezone(sign * offset))


def _canonical(value: Any) -> Any:
    """Comparable form of a DCC: dates as UTC instants, numbers as floats, maps by key."""
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).timestamp()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?", value):
        return _clock(value).timestamp()
    return value


def _step(result: Any, step: Step) -> bool:
    return result.passed(step)


def _picture(case: dict[str, Any]) -> bool | None:
    if "2DCODE" not in case:
        return None
    try:
        return decode_qr_image(base64.b64decode(case["2DCODE"])) == case["PREFIX"]
    except (QrError, binascii.Error, ValueError):
        return False


def _intermediate(function: Any, value: Any) -> Any:
    try:
        return function(value)
    except HcertError:
        return None


def _cbor_field_matches(case: dict[str, Any], dcc: dict[str, Any] | None) -> bool:
    """The file's CBOR is sometimes the whole claims map, sometimes only the DCC."""
    try:
        decoded = cbor2.loads(bytes.fromhex(case["CBOR"]))
    except (cbor2.CBORDecodeError, ValueError, TypeError):
        return False
    if isinstance(decoded, dict) and -260 in decoded:
        decoded = decoded[-260].get(1) if isinstance(decoded[-260], dict) else None
    return dcc is not None and _canonical(decoded) == _canonical(dcc)


@functools.cache
def evaluate(path: Path) -> dict[str, bool | None]:
    """The verifier's answer for every implemented flag (None: the case lacks the input)."""
    case = json.loads(path.read_text(encoding="utf-8"))
    context = case.get("TESTCTX") or {}
    prefix = case["PREFIX"]
    store = TrustStore()
    if context.get("CERTIFICATE"):
        store = TrustStore.from_certificates([base64.b64decode(context["CERTIFICATE"])])
    clock = _clock(context["VALIDATIONCLOCK"]) if context.get("VALIDATIONCLOCK") else None
    result = verify_hc1(prefix, store, clock or dt.datetime(2021, 6, 1, tzinfo=dt.UTC))
    body = _intermediate(unprefix, prefix)
    compressed = _intermediate(base45_decode, body) if body is not None else None
    cose_bytes = _intermediate(inflate, compressed) if compressed is not None else None

    decode = _step(result, Step.COSE) and _step(result, Step.CLAIMS)
    if decode and "JSON" in case:
        decode = _canonical(result.payload) == _canonical(case["JSON"])
    if decode and "CBOR" in case:
        decode = _cbor_field_matches(case, result.payload)
    has_certificate = bool(context.get("CERTIFICATE"))
    return {
        "EXPECTEDPICTUREDECODE": _picture(case),
        "EXPECTEDUNPREFIX": _step(result, Step.UNPREFIX) and ("BASE45" not in case or body == case["BASE45"]),
        "EXPECTEDB45DECODE": _step(result, Step.B45DECODE)
        and ("COMPRESSED" not in case or compressed == bytes.fromhex(case["COMPRESSED"])),
        "EXPECTEDCOMPRESSION": _step(result, Step.COMPRESSION)
        and ("COSE" not in case or cose_bytes == bytes.fromhex(case["COSE"])),
        "EXPECTEDDECODE": decode,
        "EXPECTEDVERIFY": _step(result, Step.VERIFY) if has_certificate else None,
        "EXPECTEDEXPIRATIONCHECK": _step(result, Step.EXPIRATIONCHECK) if has_certificate and clock else None,
        "EXPECTEDKEYUSAGE": _step(result, Step.KEYUSAGE) if has_certificate else None,
    }


def _expected(path: Path) -> dict[str, bool]:
    return json.loads(path.read_text(encoding="utf-8"))["EXPECTEDRESULTS"]


def test_test_data_is_present():
    # A missing or emptied data folder must fail here, not shrink the parametrized cases to none.
    assert len(FILES) > 100, f"DCC test cases missing from {DATA}"


@pytest.mark.parametrize("path", FILES, ids=_case_id)
def test_case(path: Path):
    expected = _expected(path)
    actual = evaluate(path)
    disagreements = []
    for flag in IMPLEMENTED:
        if flag not in expected or actual[flag] is None:
            continue
        diverges = (_case_id(path), flag) in DIVERGENCES
        if (actual[flag] == expected[flag]) == diverges:
            state = "no longer diverges (update DIVERGENCES)" if diverges else "disagrees"
            disagreements.append(f"{flag}: expected {expected[flag]}, verifier {actual[flag]} - {state}")
    assert not disagreements, disagreements


def test_every_flag_has_a_decision():
    """A flag this test neither checks nor explains (say, in a newer data set) must be decided."""
    flags = {flag for path in FILES for flag in _expected(path)}
    assert flags <= set(IMPLEMENTED) | set(NOT_IMPLEMENTED), flags - set(IMPLEMENTED) - set(NOT_IMPLEMENTED)


def test_divergences_name_existing_cases():
    for case_id, flag in DIVERGENCES:
        assert (DATA / case_id).is_file(), case_id
        assert flag in _expected(DATA / case_id), (case_id, flag)


def test_summary():
    """Counts for docs/verifier-conformance.md (shown with ``pytest -rP``)."""
    counts: collections.Counter[str] = collections.Counter()
    per_flag: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    invalid_without_contradiction = []
    for path in FILES:
        expected, actual = _expected(path), evaluate(path)
        for flag, value in expected.items():
            if flag not in IMPLEMENTED:
                outcome = "not implemented"
            elif actual[flag] is None:
                outcome = "not applicable"
            elif (_case_id(path), flag) in DIVERGENCES:
                outcome = "documented divergence"
            else:
                outcome = "agree" if actual[flag] == value else "disagree"
            counts[outcome] += 1
            per_flag[flag][outcome] += 1
        if all(value is not False for value in expected.values()):
            case = json.loads(path.read_text(encoding="utf-8"))
            context = case["TESTCTX"]
            result = verify_hc1(
                case["PREFIX"],
                TrustStore.from_certificates([base64.b64decode(context["CERTIFICATE"])]),
                _clock(context["VALIDATIONCLOCK"]),
            )
            if not result.valid:
                failures = ", ".join(f"{o.step}={o.reason}" for o in result.steps if o.status is Status.FAILED)
                invalid_without_contradiction.append(f"{_case_id(path)}: {failures}")
    print(f"{len(FILES)} cases; flags: {dict(counts)}")
    for flag in sorted(per_flag):
        print(f"  {flag}: {dict(per_flag[flag])}")
    print("cases no flag calls invalid, which the verifier finds invalid:")
    for line in invalid_without_contradiction:
        print(f"  {line}")
    assert counts["disagree"] == 0
