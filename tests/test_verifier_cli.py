"""The verifier's CLI as an app developer meets it (issue 17): fresh or refused, named errors with
hints and documented exit codes, never a traceback; trust without a gateway (a saved trust list,
a DSC file), ``inspect``; results that cannot be misread (revoked, cross-country, unverified
holder data)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from publication.service import publish
from tests.factory import NOW
from tests.helpers import revoke, upload
from tests.publishing import anchors, install_publisher, publish_root
from tests.test_verifier_e2e import DCC as E2E_DCC
from verifier import cose
from verifier.__main__ import main as cli
from verifier.base45 import b45encode
from verifier.issue import issue_hc1
from verifier.sync import Response, sync

ROOT = Path(__file__).resolve().parent.parent
BASE = "https://mirror.example/publication/"
DCC = E2E_DCC  # one vaccination DCC for the verifier's end-to-end tests


def _code(dsc, *, issuer: str = "XA", at: dt.datetime = NOW) -> str:
    return issue_hc1(DCC, dsc.certificate, dsc.key, iat=at, exp=at + dt.timedelta(days=30), issuer=issuer)


def _run(*arguments: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """The real command, in its own process, as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "verifier", *arguments], cwd=cwd, capture_output=True, text=True, timeout=120
    )


# --- every bad invocation: one line, a reason and a hint, the documented exit code ------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    (folder / "binary.bin").write_bytes(bytes(range(256)) * 4)
    (folder / "empty.txt").write_text("\n\n")
    (folder / "not-a-cert.pem").write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    corrupt = folder / "corrupt-state"
    corrupt.mkdir()
    (corrupt / "state.json").write_text('{"sequence": "x"')
    (folder / "empty-state").mkdir()
    keyless = folder / "keyless-state"
    keyless.mkdir()
    (keyless / "state.json").write_text('{"sequence": 3}')  # JSON, but not a state
    (folder / "trustlist.jws").write_text("not a JWS")
    from gateway.pki import issuance

    anchor = issuance.issue(issuance.name("Some anchor"), at=NOW, ca=True)
    (folder / "ta.pem").write_bytes(anchor.cert_pem)
    return folder


BAD = [
    # (arguments, the reason printed); {f} is the fixture's folder
    (["verify", "--file", "{f}/missing.txt"], "FILE_UNREADABLE"),
    (["verify", "--file", "{f}/binary.bin"], "FILE_NOT_TEXT"),
    (["verify", "--image", "{f}/missing.png"], "FILE_UNREADABLE"),
    (["verify", "--at", "yesterday", "HC1:X"], "BAD_TIME"),
    (["verify", "--state", "{f}/corrupt-state", "HC1:X"], "STATE_UNREADABLE"),
    (["verify", "--state", "{f}/empty-state", "HC1:X"], "NO_STATE"),
    (["verify", "--state", "{f}/empty-state"], "NO_CODES"),
    (["verify", "--file", "{f}/empty.txt"], "NO_CODES"),
    (["verify", "--trust-list", "{f}/trustlist.jws", "HC1:X"], "USAGE"),
    (["verify", "--trust-list", "{f}/trustlist.jws", "--trust-anchor", "{f}/ta.pem", "HC1:X"], "MALFORMED_JWS"),
    (["verify", "--dsc", "{f}/not-a-cert.pem", "HC1:X"], "DSC_UNREADABLE"),
    (["verify", "--dsc", "{f}/ta.pem", "--trust-list", "{f}/trustlist.jws", "HC1:X"], "USAGE"),
    (["inspect", "--state", "{f}/corrupt-state"], "STATE_UNREADABLE"),
    (["sync", "--url", "http://127.0.0.1:9/publication/", "--trust-anchor", "{f}/missing.pem"], "FILE_UNREADABLE"),
    (["sync", "--url", "http://127.0.0.1:9/publication/", "--trust-anchor", "{f}/binary.bin"], "ANCHOR_UNREADABLE"),
    (["sync", "--url", "http://127.0.0.1:9/publication/", "--trust-anchor", "{f}/ta.pem", "--state", "{f}/s"], None),
    (["sync", "--url", "not a url", "--trust-anchor", "{f}/ta.pem", "--state", "{f}/s"], None),
    (["sync", "--url", "http://127.0.0.1:9/p/", "--trust-anchor", "{f}/ta.pem", "--state", "{f}/corrupt-state"], None),
    (["sync", "--url", "http://127.0.0.1:9/p/", "--trust-anchor", "{f}/ta.pem", "--state", "{f}/keyless-state"], None),
]


@pytest.mark.no_db
@pytest.mark.parametrize(("arguments", "reason"), BAD, ids=[" ".join(a)[:70] for a, _ in BAD])
def test_a_bad_invocation_is_one_line_with_a_reason_and_a_hint(files, arguments, reason):
    completed = _run(*[argument.format(f=files) for argument in arguments])
    assert completed.returncode == 2, completed
    assert "Traceback" not in completed.stderr
    (line,) = completed.stderr.strip().splitlines()
    assert line.startswith("error: ")
    if reason is not None:
        assert line.startswith(f"error: {reason}: "), line
    assert completed.stdout == ""


@pytest.mark.no_db
def test_usage_errors_and_the_version():
    assert _run("bogus").returncode == 2
    version = _run("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("dcc-verifier ")
    assert "``" not in _run("--help").stdout + _run("verify", "--help").stdout
    assert "synced state" in _run("verify", "--help").stdout  # --state is explained


# --- trust without a gateway: DSC files (tests) and a saved trust list --------------------------------


def test_a_dsc_file_verifies_and_every_result_says_it_is_a_test(xa, tmp_path, capsys):
    dsc = xa.dsc()
    (tmp_path / "dsc.pem").write_bytes(dsc.cert_pem)
    assert cli(["verify", "--dsc", str(tmp_path / "dsc.pem"), "--at", NOW.isoformat(), _code(dsc)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("VALID")
    assert "trust: TEST ONLY: DSC file(s)" in out
    assert "signed with a DSC of XA" in out
    assert "holder: Erika Musterfrau" in out


def test_a_hostile_code_fails_by_name_and_the_batch_goes_on(xa, tmp_path, capsys):
    dsc = xa.dsc()
    (tmp_path / "dsc.pem").write_bytes(dsc.cert_pem)
    claims = {1: "XA", 6: int(NOW.timestamp()), 4: 10**5000, -260: {1: DCC}}
    payload = cbor2.dumps(claims)
    protected = cbor2.dumps({1: -7, 4: base64.b64decode(_kid(dsc.der))})
    r, s = decode_dss_signature(dsc.key.sign(cose.sig_structure(protected, payload), ec.ECDSA(hashes.SHA256())))
    signed = cbor2.dumps(cbor2.CBORTag(18, [protected, {}, payload, r.to_bytes(32, "big") + s.to_bytes(32, "big")]))
    import zlib

    hostile = "HC1:" + b45encode(zlib.compress(signed))
    codes = [_code(dsc), hostile, _code(dsc)]
    code = cli(["verify", "--dsc", str(tmp_path / "dsc.pem"), "--at", NOW.isoformat(), "--json", *codes])
    results = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [result["valid"] for result in results] == [True, False, True]
    assert results[1]["reason"] == "CLAIM_INVALID"


def _kid(der: bytes) -> str:
    import hashlib

    return base64.b64encode(hashlib.sha256(der).digest()[:8]).decode()


def test_a_piped_reader_that_goes_away_is_no_traceback(xa, tmp_path):
    dsc = xa.dsc()
    (tmp_path / "dsc.pem").write_bytes(dsc.cert_pem)
    (tmp_path / "codes.txt").write_text("\n".join([_code(dsc)] * 200))
    completed = subprocess.run(
        f"{sys.executable} -m verifier verify --dsc {tmp_path}/dsc.pem --at {NOW.isoformat()} --json"
        f" --file {tmp_path}/codes.txt | head -c 10",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.stdout == '[\n {\n  "in'
    assert "Traceback" not in completed.stderr


# --- with a gateway's publication ---------------------------------------------------------------------


class _Folder:
    def __call__(self, url, headers, cap, progress):
        try:
            return Response(200, {}, (publish_root() / url.removeprefix(BASE)).read_bytes())
        except FileNotFoundError:
            return Response(404, {}, b"")


@pytest.fixture
def published(client, pki, xa, xb, tmp_path):
    install_publisher(pki)
    mine, theirs = xa.dsc(), xb.dsc()
    assert upload(client, xa, xa.cms_b64(mine.der)).status_code == 201
    assert upload(client, xb, xb.cms_b64(theirs.der)).status_code == 201
    publish(at=NOW, force=True)
    (tmp_path / "ta.pem").write_bytes(pki.ta.cert_pem)
    state = tmp_path / "state"
    sync(BASE, state, anchors(pki), NOW, fetch=_Folder())
    return {"xa": mine, "xb": theirs, "state": state, "ta": tmp_path / "ta.pem"}


pytestmark_db = pytest.mark.django_db(transaction=True)


@pytestmark_db
def test_an_expired_state_refuses_unless_stale_is_allowed(published, capsys):
    code = _code(published["xa"])
    later = (NOW + dt.timedelta(days=20)).isoformat()
    arguments = ["verify", "--state", str(published["state"]), "--at", later, code]
    assert cli(arguments) == 1
    out = capsys.readouterr().out
    assert "TRUST_LIST_EXPIRED" in out
    assert "sync again" in out
    assert "holder" not in out, "an invalid code's holder is not shown"
    assert cli([*arguments, "--allow-stale"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("VALID")
    assert "WARNING: verified against a stale trust list" in out
    assert cli(["verify", "--state", str(published["state"]), "--at", NOW.isoformat(), code]) == 0


@pytestmark_db
def test_a_code_in_another_countrys_name_is_refused_and_shows_both(published, capsys):
    code = _code(published["xa"], issuer="XB")  # XA's key, XB's name
    assert cli(["verify", "--state", str(published["state"]), "--at", NOW.isoformat(), code]) == 1
    out = capsys.readouterr().out
    assert "ISSUER_COUNTRY_MISMATCH" in out
    assert "signed with a DSC of XA" in out
    assert "issuer (iss) XB" in out
    assert "holder" not in out
    assert cli(["verify", "--state", str(published["state"]), "--at", NOW.isoformat(), "--show-unverified", code]) == 1
    assert "holder (UNVERIFIED, do not rely on it): Erika Musterfrau" in capsys.readouterr().out


@pytestmark_db
def test_a_revoked_dsc_is_named_with_when_and_by_whom(client, published, pki, xa, capsys):
    code = _code(published["xa"])
    assert revoke(client, xa, xa.cms_b64(published["xa"].der)).status_code == 204
    publish(at=NOW + dt.timedelta(seconds=1), force=True)
    sync(BASE, published["state"], anchors(pki), NOW, fetch=_Folder())
    assert cli(["verify", "--state", str(published["state"]), "--at", NOW.isoformat(), "--json", code]) == 1
    (result,) = json.loads(capsys.readouterr().out)
    assert result["reason"] == "DSC_REVOKED"
    (verify,) = [step for step in result["steps"] if step["step"] == "VERIFY"]
    assert "revoked by XA at 2026-06-01T12:00:00Z" in verify["detail"]
    assert result["kid"] == _kid(published["xa"].der)
    assert result["payload"] is None


@pytestmark_db
def test_a_saved_trust_list_is_checked_against_the_anchor_and_its_age(published, tmp_path, capsys):
    index = json.loads(base64.urlsafe_b64decode((publish_root() / "index.jws").read_bytes().split(b".")[1] + b"=="))
    saved = tmp_path / "trustlist.jws"
    saved.write_bytes((publish_root() / index["trustList"]["path"]).read_bytes())
    arguments = ["verify", "--trust-list", str(saved), "--trust-anchor", str(published["ta"])]
    assert cli([*arguments, "--at", NOW.isoformat(), _code(published["xb"], issuer="XB")]) == 0
    assert f"trust: trust list {saved}, sequence" in capsys.readouterr().out
    later = (NOW + dt.timedelta(hours=49)).isoformat()
    assert cli([*arguments, "--at", later, _code(published["xb"], issuer="XB")]) == 1
    assert "TRUST_LIST_EXPIRED" in capsys.readouterr().out
    assert cli([*arguments, "--max-age", "72", "--at", later, _code(published["xb"], issuer="XB")]) == 0
    capsys.readouterr()
    from gateway.pki import issuance

    stranger = tmp_path / "stranger.pem"
    stranger.write_bytes(issuance.issue(issuance.name("Stranger"), at=NOW, ca=True).cert_pem)
    refused = ["verify", "--trust-list", str(saved), "--trust-anchor", str(stranger), "--at", NOW.isoformat(), "HC1:X"]
    assert cli(refused) == 2
    assert "UNTRUSTED_SIGNER" in capsys.readouterr().err


@pytestmark_db
def test_inspect_shows_what_is_held(published, capsys):
    assert cli(["inspect", "--state", str(published["state"]), "--at", NOW.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "countries: XA 1, XB 1" in out
    assert "DSCs:      2, revoked 0" in out
    assert "expires:   2026-06-03T12:00:00Z" in out
    assert cli(["inspect", "--state", str(published["state"]), "--json", "--at", NOW.isoformat()]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["countries"] == {"XA": 1, "XB": 1}
    assert summary["expired"] is False


@pytest.mark.no_db
def test_docs_name_every_verification_reason():
    from verifier.reasons import Reason

    text = (ROOT / "docs" / "verifier.md").read_text()
    missing = [reason.value for reason in Reason if reason is not Reason.OK and f"`{reason.value}`" not in text]
    assert not missing, f"docs/verifier.md does not explain {missing}"
