"""An UPLOAD key renewed end to end (issue 21): XA's DSCs, a rule and a revocation batch signed by
its UPLOAD key are published and verified; its successor is onboarded beside it; the country
downloads ``GET /cms-migration``, re-signs it offline with the new key (``manage.py
sign_migration``) and posts each entry; the old UPLOAD certificate is removed. Throughout, a
verifier syncing the publication (in-process, from the published folder) keeps verifying codes
signed by every DSC, and keeps refusing the code the batch revokes; at the end every DSC is still
in /trustList, /trustList/certificate and the publication, with signatures (checked with OpenSSL
too) by the new UPLOAD certificate, and so are the rule (in the published ``rules`` artifact) and
the batch (its download)."""

from __future__ import annotations

import base64
import datetime as dt
import json
import subprocess

import pytest
from django.core.management import call_command

from countries import services as country_services
from countries.models import Status, TrustedParty
from gateway.audit.models import Action, AuditEvent, Finding, Outcome, Severity
from gateway.pki import cms
from gateway.pki.certs import thumbprint
from gateway.pki.issuance import Issued
from oversight import signature_audit
from publication.service import publish
from tests.factory import NOW, CountryPki
from tests.helpers import upload
from tests.publishing import anchors, install_publisher, publish_root
from tests.test_cms_migration import post, renew_upload
from tests.test_named_artifacts import BASE, _Server
from tests.test_revocation_api import ROLES, batch, grant, post_batch
from tests.test_rules_api import post_rule, rule_for
from tests.test_verifier_e2e import DCC
from trustlist.models import SignerCertificate
from verifier import sources
from verifier.folder import verify_folder
from verifier.hcert import verify_hc1
from verifier.issue import issue_hc1
from verifier.reasons import Reason
from verifier.revocation_hashes import revocation_hash
from verifier.sync import SyncState, sync

pytestmark = pytest.mark.django_db(transaction=True)
SECOND = dt.timedelta(seconds=1)
REVOKED_CI = "URN:UVCI:01:XA:MIGRATION-REVOKED"


class Verifier:
    """A verifier that syncs the published folder and verifies codes at the gateway's clock."""

    def __init__(self, pki, frozen, folder) -> None:
        self.pki, self.frozen, self.folder, self.at = pki, frozen, folder, NOW
        self.server = _Server()
        self.syncs = 0

    def tick(self) -> None:
        """A second later (each step publishes a sequence of its own)."""
        self.at += SECOND
        self.frozen.move_to(self.at)

    def sync(self) -> sources.TrustSource:
        publish(at=self.at)  # what a change's commit queued has run; a renewal if due
        sync(BASE, self.folder, anchors(self.pki), self.at, fetch=self.server)
        self.syncs += 1
        return sources.from_state(self.folder)

    def keeps_verifying(self, codes: list[str], revoked: str) -> sources.TrustSource:
        source = self.sync()
        for code in codes:
            result = verify_hc1(code, source.store, self.at, revoked_hashes=source.revoked_hashes)
            assert result.valid, result.to_dict()
        refused = verify_hc1(revoked, source.store, self.at, revoked_hashes=source.revoked_hashes)
        assert refused.reason is Reason.DCC_REVOKED, refused.to_dict()
        return source


def _code(dsc: Issued, ci: str = "URN:UVCI:01:XA:MIGRATION") -> str:
    payload = {**DCC, "v": [{**DCC["v"][0], "ci": ci}]}
    return issue_hc1(payload, dsc.certificate, dsc.key, iat=NOW, exp=NOW + dt.timedelta(days=30), issuer="XA")


def _openssl_signer(signature: bytes, content: bytes, tmp_path, name: str) -> bytes:
    """The certificate that signed a detached CMS over ``content``, as OpenSSL verifies it."""
    (tmp_path / f"{name}.sig").write_bytes(signature)
    (tmp_path / f"{name}.bin").write_bytes(content)
    subprocess.run(
        [
            "openssl", "cms", "-verify", "-binary", "-inform", "DER", "-noverify",
            "-in", str(tmp_path / f"{name}.sig"), "-content", str(tmp_path / f"{name}.bin"),
            "-signer", str(tmp_path / f"{name}.signer.pem"), "-out", "/dev/null",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return (tmp_path / f"{name}.signer.pem").read_bytes()


def _signed_by_new(xa: CountryPki, new: Issued, client) -> None:
    for entry in client.get("/cms-migration", **xa.headers()).json():
        assert cms.parse_attached(base64.b64decode(entry["cms"])).signer_der == new.der, entry["type"]


def test_an_upload_key_renewed_end_to_end(client, pki, frozen, tmp_path):
    install_publisher(pki)
    xa = pki.country("XA")
    grant(xa, *ROLES)
    verifier = Verifier(pki, frozen, tmp_path / "verifier")
    dscs = [xa.dsc() for _ in range(3)]
    for dsc in dscs:
        assert upload(client, xa, xa.cms_b64(dsc.der)).status_code == 201
    assert post_rule(client, xa, rule_for("XA")).status_code == 201
    kid = SignerCertificate.objects.get(thumbprint=thumbprint(dscs[0].der)).kid
    revoked_batch = batch("XA", kid=kid, count=0)
    revoked_batch["entries"] = [{"hash": base64.b64encode(revocation_hash(REVOKED_CI.encode())).decode()}]
    assert post_batch(client, xa, revoked_batch).status_code == 201
    codes = [_code(dsc) for dsc in dscs]
    revoked = _code(dscs[0], REVOKED_CI)
    verifier.keeps_verifying(codes, revoked)

    # The successor of XA's UPLOAD certificate is onboarded beside it.
    verifier.tick()
    new = renew_upload(pki, xa, at=verifier.at)
    verifier.keeps_verifying(codes, revoked)

    # XA downloads what its UPLOAD key signed, re-signs it offline with the new key, posts it.
    package = tmp_path / "package.json"
    package.write_bytes(client.get("/cms-migration", **xa.headers()).content)
    assert [entry["type"] for entry in json.loads(package.read_bytes())] == [
        "DSC",
        "DSC",
        "DSC",
        "REVOCATION_LIST",
        "VALIDATION_RULE",
    ]
    (tmp_path / "new-upload.pem").write_bytes(new.cert_pem)
    (tmp_path / "new-upload.key").write_bytes(new.key_pem)
    resigned = tmp_path / "resigned.json"
    call_command(
        "sign_migration",
        "--package",
        str(package),
        "--signer",
        str(tmp_path / "new-upload.pem"),
        "--key",
        str(tmp_path / "new-upload.key"),
        "--out",
        str(resigned),
    )
    for entry in json.loads(resigned.read_text()):
        verifier.tick()
        response = post(client, xa, entry["type"], entry["entityId"], entry["cms"])
        assert response.status_code == 204, response.content
        verifier.keeps_verifying(codes, revoked)  # each entity stays published throughout
    assert AuditEvent.objects.filter(action=Action.CMS_MIGRATION, outcome=Outcome.SUCCESS).count() == 5
    _signed_by_new(xa, new, client)

    # The old UPLOAD certificate is removed: what it signed is now signed by its successor only.
    verifier.tick()
    old = TrustedParty.objects.get(thumbprint=thumbprint(xa.upload.der))
    country_services.set_status(party_id=old.pk, status=Status.REMOVED, reason="renewed", actor="test", at=verifier.at)
    source = verifier.keeps_verifying(codes, revoked)

    # Every DSC: in /trustList, its signature by the new UPLOAD certificate (OpenSSL agrees) ...
    new_pem = new.cert_pem.strip()
    listed = {entry["thumbprint"]: entry for entry in client.get("/trustList/DSC/XA", **xa.headers()).json()}
    tng = {entry["certificate"]: entry for entry in client.get("/trustList/certificate", **xa.headers()).json()}
    published = {entry["thumbprint"]: entry for entry in source.entries}
    for number, dsc in enumerate(dscs):
        entry = listed[thumbprint(dsc.der)]
        assert base64.b64decode(entry["rawData"]) == dsc.der
        signature = base64.b64decode(entry["signature"])
        assert cms.verify_detached(signature, dsc.der).signer_der == new.der
        assert _openssl_signer(signature, dsc.der, tmp_path, f"dsc{number}").strip() == new_pem
        attached = tng[base64.b64encode(dsc.der).decode()]["signature"]
        assert cms.parse_attached(base64.b64decode(attached)).signer_der == new.der
        # ... and in the publication the verifier synced: the very certificate that signature covers.
        assert base64.b64decode(published[thumbprint(dsc.der)]["certificate"]) == dsc.der

    # The rule, in the published "rules" artifact (each version with its uploader's detached CMS).
    [rule] = SyncState.load(verifier.folder).artifacts["rules"]["content"]["rules"]
    raw = base64.b64decode(rule["raw"])
    assert cms.verify_detached(base64.b64decode(rule["signature"]), raw).signer_der == new.der
    assert _openssl_signer(base64.b64decode(rule["signature"]), raw, tmp_path, "rule").strip() == new_pem
    # The batch, as GET /revocation-list/{batchId} serves it.
    [listed_batch] = client.get("/revocation-list", **xa.headers(HTTP_IF_MODIFIED_SINCE=NOW.isoformat())).json()[
        "batches"
    ]
    served = client.get(f"/revocation-list/{listed_batch['batchId']}", **xa.headers()).content
    assert cms.parse_attached(base64.b64decode(served)).signer_der == new.der

    # The removed key signs nothing any more.
    entry = json.loads(package.read_bytes())[0]
    response = post(client, xa, entry["type"], entry["entityId"], entry["cms"])
    assert (response.status_code, response.json()["reason"]) == (400, "UPLOAD_CERT_UNKNOWN")

    # The folder verifies as a verifier would, and the signature audit finds every uploader's CMS valid.
    assert verify_folder(publish_root(), anchors(pki), verifier.at).problems == []
    signature_audit.run(at=verifier.at)
    assert not Finding.objects.open().filter(severity=Severity.CRITICAL).exists(), list(Finding.objects.open())
