"""Operator commands: trust anchor, offline signing, onboarding, listing, status, roles, demo seed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from countries.models import Role, Status, TrustedParty
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki import issuance, onboarding
from gateway.pki.certs import load_pem_certificate, thumbprint
from tests.factory import NOW
from trustlist.models import SignerCertificate

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
        timeout=60,
    )


def test_ta_create_writes_private_key_0600(tmp_path):
    call_command("ta_create", "--out", str(tmp_path / "ta"))
    key = tmp_path / "ta" / "ta.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    cert = load_pem_certificate((tmp_path / "ta" / "ta.pem").read_bytes())
    assert cert.issuer == cert.subject
    with pytest.raises(FileExistsError):
        call_command("ta_create", "--out", str(tmp_path / "ta"))  # never overwrites a key


def test_ta_sign_runs_offline_without_a_database(tmp_path):
    ta = issuance.issue(issuance.name("TA"), at=NOW, ca=True)
    cert = issuance.issue(issuance.name("XA upload", "XA"), at=NOW)
    (tmp_path / "ta.pem").write_bytes(ta.cert_pem)
    (tmp_path / "ta.key").write_bytes(ta.key_pem)
    (tmp_path / "cert.pem").write_bytes(cert.cert_pem)
    # An unreachable database: any access would fail the command.
    result = _manage(
        "ta_sign",
        "--ta-cert",
        str(tmp_path / "ta.pem"),
        "--ta-key",
        str(tmp_path / "ta.key"),
        "--cert",
        str(tmp_path / "cert.pem"),
        env={"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"},
    )
    assert result.returncode == 0, result.stderr
    onboarding.verify_onboarding(cert.der, result.stdout.strip(), thumbprint(cert.der), (ta.der,))
    # The output is a standard detached CMS over the certificate DER (as dgc-cli `ta sign`).
    (tmp_path / "sig.der").write_bytes(__import__("base64").b64decode(result.stdout.strip()))
    (tmp_path / "cert.der").write_bytes(cert.der)
    check = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sig.der"),
            "-content",
            str(tmp_path / "cert.der"),
            "-CAfile",
            str(tmp_path / "ta.pem"),
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        capture_output=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


@pytest.mark.django_db
def test_onboard_list_suspend_remove_and_roles(pki, tmp_path, capsys):
    auth = issuance.issue(issuance.name("XA TLS", "XA"), at=NOW)
    (tmp_path / "auth.pem").write_bytes(auth.cert_pem)
    (tmp_path / "auth.sig").write_text(pki.sign(auth.der))
    call_command(
        "onboard",
        "--country",
        "xa",
        "--type",
        "AUTHENTICATION",
        "--cert",
        str(tmp_path / "auth.pem"),
        "--signature",
        str(tmp_path / "auth.sig"),
    )
    party = TrustedParty.objects.get()
    assert (party.country, party.certificate_type, party.status) == ("XA", "AUTHENTICATION", Status.ACTIVE)

    call_command("list_onboarded")
    assert "TA-OK" in capsys.readouterr().out

    call_command("grant_role", party.thumbprint[:12], Role.REVOCATION_UPLOADER)
    assert list(party.roles.values_list("role", flat=True)) == [Role.REVOCATION_UPLOADER]
    call_command("grant_role", party.thumbprint[:12], Role.REVOCATION_UPLOADER, "--revoke")
    assert not party.roles.exists()

    call_command("set_onboarded_status", "suspend", party.thumbprint, "--reason", "key ceremony")
    party.refresh_from_db()
    assert party.status == Status.SUSPENDED
    call_command("set_onboarded_status", "reactivate", party.thumbprint)
    call_command("set_onboarded_status", "remove", party.thumbprint, "--reason", "compromised")
    party.refresh_from_db()
    assert (party.status, party.status_reason) == (Status.REMOVED, "compromised")
    with pytest.raises(CommandError, match="INVALID_STATE"):
        call_command("set_onboarded_status", "reactivate", party.thumbprint)
    actions = list(AuditEvent.objects.values_list("action", "outcome"))
    assert (Action.ONBOARD, Outcome.SUCCESS) in actions
    assert (Action.REMOVE, Outcome.SUCCESS) in actions
    assert actions[-1] == (Action.REACTIVATE, Outcome.REJECTED)


@pytest.mark.django_db
def test_onboard_refuses_bad_signatures_and_countries(pki, tmp_path):
    cert = issuance.issue(issuance.name("XA upload", "XA"), at=NOW)
    rogue_ta = issuance.issue(issuance.name("Rogue"), at=NOW, ca=True)
    (tmp_path / "c.pem").write_bytes(cert.cert_pem)
    (tmp_path / "bad.sig").write_text(onboarding.sign_onboarding(cert.der, rogue_ta.der, rogue_ta.key))
    with pytest.raises(CommandError, match="TA_SIGNER_UNKNOWN"):
        call_command(
            "onboard",
            "--country",
            "XA",
            "--type",
            "UPLOAD",
            "--cert",
            str(tmp_path / "c.pem"),
            "--signature",
            str(tmp_path / "bad.sig"),
        )
    (tmp_path / "good.sig").write_text(pki.sign(cert.der))
    with pytest.raises(CommandError, match="INVALID_COUNTRY"):
        call_command(
            "onboard",
            "--country",
            "QQ",
            "--type",
            "UPLOAD",
            "--cert",
            str(tmp_path / "c.pem"),
            "--signature",
            str(tmp_path / "good.sig"),
        )
    with pytest.raises(CommandError, match="COUNTRY_MISMATCH"):
        call_command(
            "onboard",
            "--country",
            "DE",
            "--type",
            "UPLOAD",
            "--cert",
            str(tmp_path / "c.pem"),
            "--signature",
            str(tmp_path / "good.sig"),
        )
    assert TrustedParty.objects.count() == 0
    assert AuditEvent.objects.filter(action=Action.ONBOARD, outcome=Outcome.REJECTED).count() == 3


@pytest.mark.django_db
def test_onboard_with_inline_demo_signature(pki, tmp_path):
    cert = issuance.issue(issuance.name("DE CSCA", "DE"), at=NOW, ca=True)
    (tmp_path / "c.pem").write_bytes(cert.cert_pem)
    (tmp_path / "ta.pem").write_bytes(pki.ta.cert_pem)
    (tmp_path / "ta.key").write_bytes(pki.ta.key_pem)
    call_command(
        "onboard",
        "--country",
        "DE",
        "--type",
        "CSCA",
        "--cert",
        str(tmp_path / "c.pem"),
        "--demo-ta-key",
        str(tmp_path / "ta.key"),
        "--demo-ta-cert",
        str(tmp_path / "ta.pem"),
    )
    assert TrustedParty.objects.get().country == "DE"


@pytest.mark.django_db
def test_demo_seed_creates_a_working_pki(tmp_path, settings):
    demo = tmp_path / "demo"
    settings.GATEWAY_TRUST_ANCHOR_FILES = [str(demo / "trust-anchor" / "ta.pem")]
    call_command("demo_seed", "--dir", str(demo))
    assert TrustedParty.objects.count() == 9
    assert set(SignerCertificate.objects.values_list("country", flat=True)) == {"XB", "XC"}
    for country in ("XA", "XB", "XC"):
        for label in ("auth", "upload", "csca", "dsc"):
            assert stat.S_IMODE((demo / country / f"{label}.key").stat().st_mode) == 0o600
    # XA's DSC is left for the walkthrough; it is issued by XA's onboarded CSCA.
    dsc = load_pem_certificate((demo / "XA" / "dsc.pem").read_bytes())
    csca = load_pem_certificate((demo / "XA" / "csca.pem").read_bytes())
    assert dsc.issuer == csca.subject
    call_command("demo_seed", "--dir", str(demo))  # idempotent
    assert TrustedParty.objects.count() == 9
    assert "curl" in (demo / "README.txt").read_text()


@pytest.mark.django_db
def test_people_commands(django_user_model, tmp_path):
    from django.contrib.auth.models import Group

    from countries.models import Membership

    user = django_user_model.objects.create_user("zed", password="x")
    call_command("grant_membership", "zed", "--country", "xa", "--role", "VIEWER")
    call_command("grant_membership", "zed", "--country", "XA", "--role", "ADMIN")
    call_command("grant_membership", "zed", "--operator", "--auditor")
    user.refresh_from_db()
    assert user.is_staff
    assert list(Membership.objects.values_list("country", "role")) == [("XA", "ADMIN")]
    assert set(Group.objects.filter(user=user).values_list("name", flat=True)) == {"Operators", "Auditors"}
    with pytest.raises(CommandError, match="unknown country"):
        call_command("grant_membership", "zed", "--country", "QQ")
    call_command("add_otp_device", "zed", "--png", str(tmp_path / "qr.png"))
    assert (tmp_path / "qr.png").read_bytes().startswith(b"\x89PNG")
    assert user.totpdevice_set.get().confirmed


@pytest.mark.django_db
def test_sign_upload_makes_the_cms_the_api_takes(client, xa, tmp_path):
    dsc = xa.dsc()
    for name, data in (
        ("dsc.pem", dsc.cert_pem),
        ("upload.pem", xa.upload.cert_pem),
        ("upload.key", xa.upload.key_pem),
    ):
        (tmp_path / name).write_bytes(data)
    out = tmp_path / "dsc.cms"
    call_command(
        "sign_upload",
        "--dsc",
        str(tmp_path / "dsc.pem"),
        "--signer",
        str(tmp_path / "upload.pem"),
        "--key",
        str(tmp_path / "upload.key"),
        "--out",
        str(out),
    )
    response = client.post(
        "/signerCertificate", out.read_bytes().strip(), content_type="application/cms", **xa.headers()
    )
    assert response.status_code == 201, response.content
    assert SignerCertificate.objects.filter(thumbprint=thumbprint(dsc.der)).exists()
    with pytest.raises(CommandError, match="cannot read"):
        call_command("sign_upload", "--dsc", str(tmp_path / "missing.pem"), "--signer", "x", "--key", "y")
