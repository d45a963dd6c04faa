"""``python -m verifier``: sync the gateway's signed lists, verify HC1 codes offline, issue test codes.

python -m verifier sync --url https://gateway.example/publication/ --trust-anchor ta.pem
python -m verifier verify 'HC1:...'            # or --file codes.txt, --image qr.png; --json
python -m verifier issue --payload dcc.json --dsc dsc.pem --key dsc.key --issuer XA --out qr.png
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from verifier.certificates import load_anchor
from verifier.encoding import parse_time
from verifier.reasons import VerificationError
from verifier.sync import SyncState, sync

DEFAULT_STATE = Path.home() / ".dcc-verifier"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verifier", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_sync = sub.add_parser("sync", help="download and verify the published lists")
    p_sync.add_argument("--url", required=True, help="base URL of the publication (…/publication/)")
    p_sync.add_argument("--trust-anchor", required=True, action="append", help="pinned trust anchor (PEM)")
    p_sync.add_argument("--state", type=Path, default=DEFAULT_STATE)
    p_sync.add_argument("--at", help="verification time, ISO 8601 (default: now)")
    p_sync.add_argument("--quiet", action="store_true", help="no progress bar")

    p_verify = sub.add_parser("verify", help="verify HC1 codes against the synced lists")
    p_verify.add_argument("codes", nargs="*", help="HC1:… strings")
    p_verify.add_argument("--file", type=Path, action="append", default=None, help="a file of HC1 lines")
    p_verify.add_argument("--image", type=Path, action="append", default=None, help="a QR code image (PNG/JPEG)")
    p_verify.add_argument("--state", type=Path, default=DEFAULT_STATE)
    p_verify.add_argument("--at", help="verification clock, ISO 8601 (default: now)")
    p_verify.add_argument("--json", action="store_true", help="machine-readable output")

    p_issue = sub.add_parser("issue", help="sign a DCC payload into an HC1 code and a QR PNG (tests, demos)")
    p_issue.add_argument("--payload", type=Path, required=True, help="DCC JSON (ver, nam, dob, v|t|r)")
    p_issue.add_argument("--dsc", type=Path, required=True, help="DSC certificate (PEM)")
    p_issue.add_argument("--key", type=Path, required=True, help="DSC private key (PEM)")
    p_issue.add_argument("--issuer", required=True, help="issuing country (CWT iss)")
    p_issue.add_argument("--days", type=int, default=30, help="validity of the code")
    p_issue.add_argument("--out", type=Path, help="write a QR PNG here")

    args = parser.parse_args(argv)
    return {"sync": _sync, "verify": _verify, "issue": _issue}[args.command](args)


def _now(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.UTC)
    return parse_time(value)


def _sync(args: argparse.Namespace) -> int:
    anchors = [load_anchor(Path(path).read_bytes()) for path in args.trust_anchor]
    bar = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(unit="B", unit_scale=True, leave=False)

    def progress(done: int, total: int | None) -> None:
        if bar is not None:
            bar.total = total
            bar.n = done
            bar.refresh()

    try:
        result = sync(args.url, args.state, anchors, _now(args.at), progress=progress)
    except VerificationError as exc:
        print(f"sync refused: {exc.reason}: {exc.detail}", file=sys.stderr)
        return 2
    finally:
        if bar is not None:
            bar.close()
    print(f"sequence {result.sequence}: {result.mode} ({result.downloaded_bytes} bytes downloaded)")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from verifier.hcert import verify_hc1, verify_qr_image
    from verifier.trust import TrustStore

    state = SyncState.load(args.state)
    if not state.sequence:
        print("no synced trust list: run `python -m verifier sync` first", file=sys.stderr)
        return 2
    trust = TrustStore.from_trust_list_payload({"sequence": state.sequence, "entries": list(state.trusted.values())})
    revoked = {entry["thumbprint"] for entry in state.revoked.values()}
    at = _now(args.at)
    items: list[tuple[str, Any]] = [(code, None) for code in args.codes]
    for path in args.file or []:
        items += [(line.strip(), None) for line in path.read_text().splitlines() if line.strip()]
    for path in args.image or []:
        items.append((str(path), path.read_bytes()))
    results = []
    for label, image in items:
        if image is not None:
            result = verify_qr_image(image, trust, at, revoked_thumbprints=revoked)
        else:
            result = verify_hc1(label, trust, at, revoked_thumbprints=revoked)
        results.append((label, result))
    if args.json:
        print(json.dumps([{"input": label[:80], **result.to_dict()} for label, result in results], indent=1))
    else:
        for label, result in results:
            print(_human(label, result))
    return 0 if results and all(result.valid for _, result in results) else 1


def _human(label: str, result: Any) -> str:
    lines = [f"{'VALID' if result.valid else 'INVALID'}  {label[:60]}{'…' if len(label) > 60 else ''}"]
    for step in result.steps:
        outcome = step.to_dict()
        detail = f" ({outcome['detail']})" if outcome["detail"] else ""
        lines.append(f"  {outcome['status']:<8} {outcome['step']}: {outcome['reason']}{detail}")
    payload = result.to_dict().get("payload")
    if payload:
        name = payload.get("nam", {})
        lines.append(f"  holder: {name.get('gn', '')} {name.get('fn', '')}, born {payload.get('dob', '?')}")
    return "\n".join(lines)


def _issue(args: argparse.Namespace) -> int:
    from verifier.issue import issue_hc1
    from verifier.qr import qr_png

    payload = json.loads(args.payload.read_text())
    certificate = x509.load_pem_x509_certificate(args.dsc.read_bytes())
    key = load_pem_private_key(args.key.read_bytes(), password=None)
    now = dt.datetime.now(dt.UTC)
    text = issue_hc1(payload, certificate, key, iat=now, exp=now + dt.timedelta(days=args.days), issuer=args.issuer)
    print(text)
    if args.out:
        args.out.write_bytes(qr_png(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
