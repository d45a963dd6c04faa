"""Signature audits find what was altered in the database, once, and nothing on a clean one."""

from __future__ import annotations

import datetime as dt

import pytest

from countries.models import TrustedParty
from gateway.audit.models import Action, AuditEvent, Finding, Severity
from gateway.pki import issuance, onboarding
from gateway.pki.certs import thumbprint
from oversight import signature_audit
from tests.factory import NOW
from tests.helpers import upload
from tests.publishing import install_publisher
from trustlist.models import SignerCertificate

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def world(client, pki, xa, frozen):
    install_publisher(pki)
    dsc = xa.dsc()
    assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201  # published on commit
    return dsc


def _kinds() -> set[str]:
    return set(Finding.objects.open().values_list("kind", flat=True))


def test_clean_database_has_no_findings(world):
    run = signature_audit.run(at=NOW)
    assert run.findings == 0
    assert run.checked["onboarded"] == 3
    assert run.checked["dscs"] == 1
    assert run.checked["published_artifacts"] >= 3
    assert run.checked["audit_log_leaves"] > 0


def test_altered_dsc_and_broken_onboarding_are_found_once_then_resolved(world, xa, pki):
    other = xa.dsc()
    SignerCertificate.objects.filter(thumbprint=thumbprint(world.der)).update(raw_data=other.der)
    csca = TrustedParty.objects.get(thumbprint=thumbprint(xa.csca.der))
    rogue = issuance.issue(issuance.name("Test Trust Anchor"), at=NOW, ca=True)
    good_signature = csca.signature
    TrustedParty.objects.filter(pk=csca.pk).update(
        signature=onboarding.sign_onboarding(xa.csca.der, rogue.der, rogue.key)
    )

    first = signature_audit.run(at=NOW)
    assert {"DSC_ALTERED", "ONBOARDED_SIGNATURE_INVALID"} <= _kinds()
    assert first.new_findings == first.findings
    assert Finding.objects.get(kind="DSC_ALTERED").severity == Severity.CRITICAL
    events = AuditEvent.objects.filter(action=Action.AUDIT_FINDING)
    assert set(events.values_list("reason", flat=True)) >= {"DSC_ALTERED", "ONBOARDED_SIGNATURE_INVALID"}

    again = signature_audit.run(at=NOW + dt.timedelta(hours=1))  # a second (or duplicated) run
    assert again.new_findings == 0
    assert Finding.objects.open().count() == first.findings
    assert AuditEvent.objects.filter(action=Action.AUDIT_FINDING).count() == events.count()

    SignerCertificate.objects.filter(thumbprint=thumbprint(world.der)).update(raw_data=world.der)
    TrustedParty.objects.filter(pk=csca.pk).update(signature=good_signature)
    signature_audit.run(at=NOW + dt.timedelta(hours=2))
    assert not {"DSC_ALTERED", "ONBOARDED_SIGNATURE_INVALID"} & _kinds()
    assert Finding.objects.filter(kind="DSC_ALTERED", resolved_at__isnull=False).exists()


def test_forged_uploader_signature_is_found(world, xa, xb):
    forged = xa.cms(world.der, signer=xb.upload)
    import base64

    from gateway.pki import cms

    SignerCertificate.objects.update(signature=base64.b64encode(cms.detach(forged)).decode())
    signature_audit.run(at=NOW)
    assert "DSC_UPLOAD_SIGNATURE_INVALID" in _kinds()


def test_tampered_publication_is_found(world, settings):
    from pathlib import Path

    index = Path(settings.GATEWAY_PUBLISH_DIR) / "index.jws"
    data = bytearray(index.read_bytes())
    data[-3] ^= 1
    index.write_bytes(bytes(data))
    signature_audit.run(at=NOW)
    assert "PUBLICATION_INVALID" in _kinds()


def test_expiring_certificates_are_reported(client, pki, xa, frozen):
    install_publisher(pki)
    soon = xa.dsc(not_before=NOW - dt.timedelta(days=300), not_after=NOW + dt.timedelta(days=10))
    assert upload(client, xa, xa.cms_b64(soon.der)).status_code == 201
    signature_audit.run(at=NOW)
    finding = Finding.objects.get(kind="DSC_EXPIRING")
    assert finding.subject == thumbprint(soon.der)
    assert finding.severity == Severity.INFO
    signature_audit.run(at=NOW + dt.timedelta(days=11))
    assert "DSC_EXPIRED" in _kinds()
