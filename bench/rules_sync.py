"""What business rules and value sets add to a verifier's catch-up (issue 18): the gateway publishes
them as two named artifacts of the signed index; a verifier downloads a version only when it
changed. Measured in one run, on one gateway, against a baseline without them:

- **baseline**: a verifier holds the state of sequence S; 10 DSC uploads follow (each published
  as a delta); the catch-up sync's bytes and time (median of repeats, each from the same held state);
- **with rules and value sets**: the same after the EU value sets are imported and a country's
  rules uploaded (their artifacts already held): what the index's ``artifacts`` member adds;
- **a rule among the changes**: 9 uploads and 1 rule version: the new ``rules`` artifact too.

    .venv/bin/python bench/rules_sync.py [--dscs 300] [--changes 10] [--repeats 15]

Target (issue 18): rules and value sets add less than 10 % to a catch-up after 10 changes.
Everything in process: SQLite in a temporary folder, eager tasks, the verifier's ``sync`` reading
the publish folder through its fetch interface (no network).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common
from bench.common import banner, parser, table

RULES = Path(__file__).resolve().parent.parent / "tests" / "data" / "rules" / "business-rules"
BASE = "https://mirror.example/publication/"


def main() -> None:
    arguments = parser("What business rules and value sets add to a verifier's catch-up.")
    arguments.add_argument("--dscs", type=int, default=300, help="DSCs uploaded before measuring (default 300)")
    arguments.add_argument("--changes", type=int, default=10, help="uploads between the syncs (default 10)")
    arguments.add_argument("--repeats", type=int, default=15, help="catch-up syncs timed per case (default 15)")
    args = arguments.parse_args()

    from tests.factory import Pki

    pki = Pki.create()
    folder = Path(tempfile.mkdtemp(prefix="gateway-bench-rules-"))
    import os

    os.environ["GATEWAY_PUBLISH_DIR"] = str(folder / "publish")
    os.environ["GATEWAY_PUBLISHER_KEY_DIR"] = str(folder / "publisher")
    os.environ["GATEWAY_PUBLISH_FULL_AFTER_SECONDS"] = "86400"  # deltas only between the syncs
    os.environ["GATEWAY_PUBLISH_FULL_AFTER_DELTAS"] = "100000"
    env = common.setup_django("sqlite", pki.ta.cert_pem)
    banner("Rules and value sets in a verifier's catch-up", env)

    from django.utils import timezone

    from publication import providers
    from rules.content import RulesContent, ValueSetsContent
    from tests.publishing import install_publisher
    from verifier.certificates import load_anchor

    # The baseline is a gateway without the rules room's content: its providers leave publication.
    providers.unregister_named_content("rules")
    providers.unregister_named_content("valuesets")
    install_publisher(pki, at=timezone.now())
    xa = pki.country("XA")
    anchors = [load_anchor(pki.ta.cert_pem)]
    root = Path(os.environ["GATEWAY_PUBLISH_DIR"])
    began = time.perf_counter()
    for _ in range(args.dscs):
        _upload(xa)
    print(f"{args.dscs} DSCs uploaded and published in {time.perf_counter() - began:.1f} s (not timed below).\n")

    rows = []
    baseline = _catch_up(xa, anchors, root, folder / "a", args, rule=False)
    rows.append(["baseline: no rules room", *_figures(baseline)])

    providers.register_named_content(RulesContent())
    providers.register_named_content(ValueSetsContent())
    _import_value_sets()
    uploaded = _upload_rules(xa)
    print(f"Imported the EU value sets and uploaded {uploaded} rules (DE's, as XA's).\n")
    with_rules = _catch_up(xa, anchors, root, folder / "b", args, rule=False)
    rows.append(["with rules and value sets (held)", *_figures(with_rules)])
    with_change = _catch_up(xa, anchors, root, folder / "c", args, rule=True)
    rows.append([f"{args.changes - 1} uploads and 1 rule version", *_figures(with_change)])

    print(table(["case", "bytes downloaded", "files", "median ms", "p90 ms"], rows))
    extra_bytes = with_rules["bytes"] / baseline["bytes"] - 1
    extra_time = with_rules["median"] / baseline["median"] - 1
    print(
        f"\nRules and value sets add {extra_bytes:+.1%} bytes and {extra_time:+.1%} time to a catch-up after "
        f"{args.changes} changes (target < 10 %: {'met' if max(extra_bytes, extra_time) < 0.10 else 'NOT met'})."
    )
    print(
        f"A new rule version among the changes downloads the rules artifact too: "
        f"{with_change['bytes'] - with_rules['bytes']:+,} bytes."
    )
    shutil.rmtree(folder, ignore_errors=True)


def _upload(country: Any) -> None:
    from django.utils import timezone

    from countries.identity import ClientIdentity
    from trustlist.services import upload_signer_certificate

    dsc = country.dsc(at=timezone.now())
    identity = ClientIdentity(country=country.code, thumbprint="", party_id=0)
    upload_signer_certificate(identity=identity, cms_der=country.cms(dsc.der), at=timezone.now())


def _import_value_sets() -> None:
    from django.utils import timezone

    from rules.services import import_value_sets

    path = RULES / "valuesets" / "valueSets.json"
    import_value_sets(path.read_bytes(), source=str(path), at=timezone.now(), actor="bench")


def _rule(path: Path, *, days: int, version: str | None = None) -> bytes:
    rule = json.loads(path.read_text())
    prefix, _, number = rule["Identifier"].split("-")
    rule["Identifier"], rule["Country"] = f"{prefix}-XA-{number}", "XA"
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=days)
    rule["ValidFrom"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
    rule["ValidTo"] = (start + dt.timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if version:
        rule["Version"] = version
    return json.dumps(rule).encode()


def _upload_rules(country: Any) -> int:
    from django.utils import timezone

    from countries.identity import ClientIdentity
    from rules.services import upload_rule

    identity = ClientIdentity(country=country.code, thumbprint="", party_id=0)
    paths = sorted((RULES / "DE").glob("*/rule.json"))
    for path in paths:
        upload_rule(identity=identity, cms_der=country.cms(_rule(path, days=3)), at=timezone.now())
    return len(paths)


def _catch_up(country: Any, anchors: list[Any], root: Path, state: Path, args: Any, *, rule: bool) -> dict[str, Any]:
    """Sync (held state), ``changes`` changes, then the catch-up from that held state, repeated."""
    from verifier.sync import Response, sync

    requests: list[tuple[str, int]] = []

    def fetch(url: str, headers: dict[str, str], cap: int, progress: Any) -> Response:
        data = (root / url.removeprefix(BASE)).read_bytes()
        requests.append((url, len(data)))
        return Response(200, {}, data)

    now = dt.datetime.now(dt.UTC)
    sync(BASE, state, anchors, now, fetch=fetch)
    held = state.with_name(state.name + "-held")
    shutil.copytree(state, held)
    for number in range(args.changes):
        if rule and number == 0:
            _upload_rule_version(country)
        else:
            _upload(country)
    seconds = []
    measured: list[tuple[str, int]] = []
    for _ in range(args.repeats):
        shutil.rmtree(state)
        shutil.copytree(held, state)
        requests.clear()
        began = time.perf_counter()
        result = sync(BASE, state, anchors, now, fetch=fetch)
        seconds.append(time.perf_counter() - began)
        assert result.mode == "delta", result
        measured = copy.copy(requests)
    return {
        "bytes": sum(size for _, size in measured),
        "files": len(measured),
        "median": statistics.median(seconds) * 1000,
        "p90": sorted(seconds)[int(0.9 * (len(seconds) - 1))] * 1000,
    }


def _upload_rule_version(country: Any) -> None:
    from django.utils import timezone

    from countries.identity import ClientIdentity
    from rules.services import upload_rule

    identity = ClientIdentity(country=country.code, thumbprint="", party_id=0)
    path = sorted((RULES / "DE").glob("*/rule.json"))[0]
    raw = _rule(path, days=4, version="9.0.0")
    upload_rule(identity=identity, cms_der=country.cms(raw), at=timezone.now())


def _figures(result: dict[str, Any]) -> list[str]:
    return [f"{result['bytes']:,}", str(result["files"]), f"{result['median']:.2f}", f"{result['p90']:.2f}"]


if __name__ == "__main__":
    main()
