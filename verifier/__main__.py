"""The verifier's command line (``dcc-verifier``, or ``python -m verifier``).

  sync     download and verify what a gateway publishes into a local state
  verify   verify HC1 codes (text, files of lines, QR images) against the state, a saved trust
           list, or DSC files (tests); with --country, also the business rules of that country
           of arrival
  inspect  show what a state or a saved trust list holds
  issue    sign a DCC payload into an HC1 code and a QR PNG (tests, demos)

Exit codes: 0 every code is valid (or the command did its job), 1 a code is invalid, 2 a usage
or environment error: one line on standard error, ``error: REASON: what (hint: what to do)``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from verifier.fetch import DEFAULT_TIMEOUT
from verifier.reasons import VerificationError
from verifier.sources import DEFAULT_MAX_AGE, SourceError, TrustSource

DEFAULT_STATE = Path.home() / ".dcc-verifier"
PACKAGE = "dcc-trust-verifier"
HINTS = {
    "DEADLINE": "the mirror is too slow: try again, or raise --timeout",
    "HTTP_ERROR": "check the URL (it ends in /publication/) and that the gateway is up",
    "UNREACHABLE": "check the URL, the network, and that the gateway is up",
    "BAD_URL": "give the publication's URL, e.g. https://gateway.example/publication/",
    "REDIRECT_REFUSED": "give --url where the publication is now (https stays https)",
    "BAD_CONTENT_LENGTH": "the mirror answers malformed HTTP: use another mirror, or the gateway",
    "INDEX_EXPIRED": "the gateway has not re-signed its index: it may be down, or someone holds back updates",
    "UNTRUSTED_SIGNER": "check the trust anchor file: it must be the one the gateway's publisher key is certified by",
    "PUBLISHER_USAGE": "the gateway's publisher certificate lacks the publisher usage: its operator must re-certify it",
}


class CliError(Exception):
    """A usage or environment error: ``reason``, what happened, and what to do about it."""

    def __init__(self, reason: str, detail: str, hint: str = "") -> None:
        super().__init__(detail)
        self.reason, self.detail, self.hint = reason, detail, hint


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)  # bad usage: argparse's message and exit code 2
    command: Callable[[argparse.Namespace], int] = args.run
    try:
        return command(args)
    except CliError as exc:
        return _error(exc.reason, exc.detail, exc.hint)
    except SourceError as exc:
        return _error(exc.reason, exc.detail, exc.hint)
    except VerificationError as exc:
        return _error(exc.reason, exc.detail, HINTS.get(exc.reason, ""))
    except BrokenPipeError:
        # The reader went away (`... | head`): nothing more to say, and nowhere to say it.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _seconds(value: str) -> float:
    seconds = float(value)
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of seconds")
    return seconds


def _error(reason: str, detail: str, hint: str) -> int:
    print(f"error: {reason}: {detail}" + (f" (hint: {hint})" if hint else ""), file=sys.stderr)
    return 2


def _version() -> str:
    try:
        return metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:
        return "(not installed: run from a checkout)"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dcc-verifier",
        description="Sync a trust gateway's signed lists and verify EU DCC (HC1) codes offline.",
        epilog="Exit codes: 0 valid or done, 1 a code is invalid, 2 usage or environment error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    state_help = f"folder of the synced state (default {DEFAULT_STATE})"
    at_help = "the clock, ISO 8601 (default: now), e.g. 2026-06-01T12:00:00Z"

    p_sync = sub.add_parser("sync", help="download and verify what a gateway publishes")
    p_sync.add_argument("--url", required=True, help="base URL of the publication (https://…/publication/)")
    p_sync.add_argument("--trust-anchor", required=True, action="append", help="pinned trust anchor (PEM or DER)")
    p_sync.add_argument("--state", type=Path, default=DEFAULT_STATE, help=state_help)
    p_sync.add_argument("--at", help=at_help)
    p_sync.add_argument(
        "--timeout",
        type=_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"for the whole sync, every download together (default {DEFAULT_TIMEOUT:g})",
    )
    p_sync.add_argument("--quiet", action="store_true", help="no progress bar")
    p_sync.set_defaults(run=_sync)

    p_verify = sub.add_parser("verify", help="verify HC1 codes")
    p_verify.add_argument("codes", nargs="*", help="HC1:… texts")
    p_verify.add_argument("--file", type=Path, action="append", default=[], help="a text file of HC1 lines")
    p_verify.add_argument("--image", type=Path, action="append", default=[], help="a QR code image (PNG, JPEG…)")
    _trust_arguments(p_verify, state_help)
    p_verify.add_argument("--dsc", type=Path, action="append", default=[], help="trust this DSC (tests only)")
    p_verify.add_argument("--at", help=at_help)
    p_verify.add_argument(
        "--allow-stale", action="store_true", help="verify against an expired trust list (each result warns)"
    )
    p_verify.add_argument(
        "--show-unverified", action="store_true", help="show the holder's data of an invalid code, marked unverified"
    )
    p_verify.add_argument("--json", action="store_true", help="machine-readable output")
    p_verify.add_argument(
        "--country", help="country of arrival (ISO 3166 alpha-2): evaluate its business rules for each valid code"
    )
    p_verify.add_argument("--lang", default="en", help="language of the rules' descriptions (default en, else English)")
    p_verify.add_argument(
        "--rules", type=Path, help="rules from a rule.json file or a folder of them instead of the state's (tests)"
    )
    p_verify.add_argument("--valuesets", type=Path, help="value sets from a valueSets.json instead of the state's")
    p_verify.set_defaults(run=_verify)

    p_inspect = sub.add_parser("inspect", help="show what a state or a saved trust list holds")
    _trust_arguments(p_inspect, state_help)
    p_inspect.add_argument("--at", help=at_help)
    p_inspect.add_argument("--json", action="store_true", help="machine-readable output")
    p_inspect.set_defaults(run=_inspect)

    p_issue = sub.add_parser("issue", help="sign a DCC payload into an HC1 code and a QR PNG (tests, demos)")
    p_issue.add_argument("--payload", type=Path, required=True, help="DCC JSON (ver, nam, dob, v|t|r)")
    p_issue.add_argument("--dsc", type=Path, required=True, help="DSC certificate (PEM)")
    p_issue.add_argument("--key", type=Path, required=True, help="DSC private key (PEM)")
    p_issue.add_argument("--issuer", required=True, help="issuing country (CWT iss)")
    p_issue.add_argument("--days", type=int, default=30, help="validity of the code in days (default 30)")
    p_issue.add_argument("--out", type=Path, help="write a QR PNG here")
    p_issue.set_defaults(run=_issue)
    return parser


def _trust_arguments(parser: argparse.ArgumentParser, state_help: str) -> None:
    parser.add_argument("--state", type=Path, default=DEFAULT_STATE, help=state_help)
    parser.add_argument("--trust-list", type=Path, help="a saved trust list (trustlist.jws) instead of the state")
    parser.add_argument("--trust-anchor", action="append", default=[], help="the anchor a --trust-list is checked by")
    parser.add_argument(
        "--max-age",
        type=float,
        default=DEFAULT_MAX_AGE.total_seconds() / 3600,
        help=f"hours a --trust-list stays current after its issue (default {DEFAULT_MAX_AGE.total_seconds() / 3600:g})",
    )


# --- reading what the user named ------------------------------------------------------------------


def _now(value: str | None) -> dt.datetime:
    if not value:
        return dt.datetime.now(dt.UTC)
    from verifier.encoding import parse_time

    try:
        return parse_time(value)
    except ValueError:
        raise CliError("BAD_TIME", f"--at {value!r} is not an ISO 8601 time", "e.g. 2026-06-01T12:00:00Z") from None


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CliError("FILE_UNREADABLE", f"{what} {path}: {exc.strerror or exc}", "check the path") from None


def _lines(path: Path) -> list[str]:
    try:
        text = _read(path, "--file").decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(
            "FILE_NOT_TEXT", f"--file {path} is not UTF-8 text", "give a text file of HC1 lines (--image for a QR)"
        ) from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _anchors(paths: list[str]) -> list[Any]:
    from verifier.certificates import load_anchor

    anchors = []
    for path in paths:
        data = _read(Path(path), "trust anchor")
        try:
            anchors.append(load_anchor(data))
        except ValueError:
            raise CliError("ANCHOR_UNREADABLE", f"{path} is not a certificate (PEM or DER)", "check the file") from None
    return anchors


def _source(args: argparse.Namespace, at: dt.datetime) -> TrustSource:
    from verifier import sources

    dscs = getattr(args, "dsc", [])
    if args.trust_list and dscs:
        raise CliError("USAGE", "--trust-list and --dsc exclude each other", "give one source of trust")
    if dscs:
        return sources.from_dsc_files((str(path), _read(path, "--dsc")) for path in dscs)
    if args.trust_list:
        if not args.trust_anchor:
            raise CliError("USAGE", "--trust-list needs --trust-anchor", "name the anchor that certifies the publisher")
        return sources.from_trust_list(
            _read(args.trust_list, "--trust-list"),
            _anchors(args.trust_anchor),
            at,
            label=str(args.trust_list),
            max_age=dt.timedelta(hours=args.max_age),
        )
    return sources.from_state(args.state)


def _rules(args: argparse.Namespace, source: TrustSource) -> tuple[TrustSource, str | None]:
    """The source with the rules asked for, and the country of arrival (None: no rules)."""
    if args.country is None:
        if args.rules or args.valuesets:
            raise CliError("USAGE", "--rules and --valuesets need --country", "name the country of arrival")
        return source, None
    country = args.country.upper()
    if len(country) != 2 or not country.isascii() or not country.isalpha():
        raise CliError("USAGE", f"--country {args.country!r} is not a country code", "e.g. --country DE")
    if args.rules or args.valuesets:
        from verifier.rule_sources import rules_from_path, value_sets_from_file
        from verifier.rules import RuleSet

        held = source.rules
        try:
            rules, issues = rules_from_path(args.rules) if args.rules else (list(held.rules), list(held.issues))
            value_sets, more = value_sets_from_file(args.valuesets) if args.valuesets else (dict(held.value_sets), [])
        except OSError as exc:
            raise CliError("FILE_UNREADABLE", f"{exc.filename}: {exc.strerror or exc}", "check the path") from None
        source = source.with_rules(RuleSet(rules, value_sets, [*issues, *more]))
    if country not in source.rules.countries():
        known = ", ".join(source.rules.countries()) or "none"
        raise CliError(
            "NO_RULES",
            f"the rules held name no rule of {country} (countries with rules: {known})",
            "sync from a gateway that publishes rules, or give --rules",
        )
    return source, country


# --- commands -------------------------------------------------------------------------------------


def _sync(args: argparse.Namespace) -> int:
    from verifier.sync import sync

    anchors = _anchors(args.trust_anchor)
    at = _now(args.at)
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
        result = sync(args.url, args.state, anchors, at, progress=progress, timeout=args.timeout)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        # The network's errors are VerificationErrors: this is the state folder (unwritable, or a
        # state.json that is not one).
        raise CliError(
            "STATE_UNUSABLE",
            f"{args.state}: {exc}",
            "check that the state folder is writable, or sync into an empty one",
        ) from None
    finally:
        if bar is not None:
            bar.close()
    print(f"sequence {result.sequence}: {result.mode} ({result.downloaded_bytes} bytes downloaded)")
    return 0


def _verify(args: argparse.Namespace) -> int:
    from verifier.hcert import verify_hc1, verify_qr_image

    at = _now(args.at)
    items: list[tuple[str, bytes | None]] = [(code, None) for code in args.codes]
    for path in args.file:
        items += [(line, None) for line in _lines(path)]
    for path in args.image:
        items.append((str(path), _read(path, "--image")))
    if not items:
        raise CliError("NO_CODES", "nothing to verify", "give HC1 texts, --file FILE or --image IMAGE")
    source, country = _rules(args, _source(args, at))
    options: dict[str, Any] = {
        "revocations": source.revocations,
        "revoked_hashes": source.revoked_hashes,
        "allow_stale": args.allow_stale,
    }
    results = []
    for label, image in items:
        if image is not None:
            result = verify_qr_image(image, source.store, at, **options)
        else:
            result = verify_hc1(label, source.store, at, **options)
        if country is not None:
            from verifier.rule_check import apply_rules

            result = apply_rules(result, source.rules, country, at, lang=args.lang)
        results.append((label, result))
    if args.json:
        rendered = [
            {"input": label[:80], **result.to_dict(show_unverified=args.show_unverified)} for label, result in results
        ]
        print(json.dumps(rendered, indent=1))
    else:
        for label, result in results:
            print(_human(label, result, show_unverified=args.show_unverified))
    return 0 if all(result.valid for _, result in results) else 1


def _human(label: str, result: Any, *, show_unverified: bool) -> str:
    summary = result.to_dict(show_unverified=show_unverified)
    lines = [f"{'VALID' if result.valid else 'INVALID'}  {label[:60]}{'…' if len(label) > 60 else ''}"]
    lines.append(f"  trust: {summary['trustSource']}")
    for warning in summary["warnings"]:
        lines.append(f"  WARNING: {warning}")
    for outcome in summary["steps"]:
        detail = f" ({outcome['detail']})" if outcome["detail"] else ""
        lines.append(f"  {outcome['status']:<8} {outcome['step']}: {outcome['reason']}{detail}")
    if summary["dscCountry"] or summary["issuer"]:
        lines.append(
            f"  signed with a DSC of {summary['dscCountry'] or '?'} (kid {summary['kid']}),"
            f" issuer (iss) {summary['issuer'] or 'not given'}"
        )
    lines += _human_rules(summary.get("rules"))
    payload = summary["payload"] if result.valid else summary.get("unverifiedPayload")
    if isinstance(payload, dict):
        name = payload.get("nam") if isinstance(payload.get("nam"), dict) else {}
        holder = f"{name.get('gn', '')} {name.get('fn', '')}, born {payload.get('dob', '?')}"
        lines.append(f"  holder: {holder}" if result.valid else f"  holder (UNVERIFIED, do not rely on it): {holder}")
    return "\n".join(lines)


def _human_rules(rules: dict[str, Any] | None) -> list[str]:
    """Every rule that did not pass, with its description; the rules that were not taken."""
    if rules is None:
        return []
    lines = []
    for outcome in rules["results"]:
        if outcome["status"] != "PASSED":
            detail = f" ({outcome['detail']})" if outcome["detail"] else ""
            lines.append(
                f"  rule {outcome['identifier']} {outcome['version']} of {outcome['country']} {outcome['status']}:"
                f" {outcome['reason']}{detail}: {outcome['description']}"
            )
    for issue in rules["skipped"]:
        lines.append(f"  WARNING: rule not taken: {issue['source']}: {issue['reason']} ({issue['detail']})")
    return lines


def _inspect(args: argparse.Namespace) -> int:
    at = _now(args.at)
    summary = _source(args, at).summary(at)
    if args.json:
        print(json.dumps(summary, indent=1))
        return 0
    print(f"source:    {summary['source']}")
    print(f"sequence:  {summary['sequence']}")
    print(f"issued:    {summary['issuedAt']} ({summary['age']} ago)")
    print(f"expires:   {summary['expiresAt']}{'  EXPIRED: sync again' if summary['expired'] else ''}")
    print(f"DSCs:      {summary['dscs']}, revoked {summary['revoked']}")
    print("countries: " + (", ".join(f"{code} {count}" for code, count in summary["countries"].items()) or "none"))
    for skipped in summary["skipped"]:
        print(f"skipped:   {skipped}")
    rules = ", ".join(f"{code} {count}" for code, count in summary["rules"].items()) or "none"
    print(f"rules:     {rules}; value sets {summary['valueSets']}")
    for issue in summary["rulesSkipped"]:
        print(f"skipped:   rule {issue['source']}: {issue['reason']} ({issue['detail']})")
    return 0


def _issue(args: argparse.Namespace) -> int:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from verifier.issue import issue_hc1
    from verifier.qr import qr_png

    try:
        payload = json.loads(_read(args.payload, "--payload"))
        certificate = x509.load_pem_x509_certificate(_read(args.dsc, "--dsc"))
        key = load_pem_private_key(_read(args.key, "--key"), password=None)
    except (ValueError, TypeError) as exc:
        hint = "give a DCC JSON, a PEM certificate and its unencrypted PEM key"
        raise CliError("BAD_INPUT", f"{exc}", hint) from None
    now = dt.datetime.now(dt.UTC)
    text = issue_hc1(payload, certificate, key, iat=now, exp=now + dt.timedelta(days=args.days), issuer=args.issuer)
    print(text)
    if args.out:
        args.out.write_bytes(qr_png(text))
    return 0


if __name__ == "__main__":
    sys.exit(main())
