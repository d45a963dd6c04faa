"""Signature audits: stored data is re-checked continuously, never trusted.

A run re-verifies every onboarded certificate's trust-anchor signature, every trusted issuer's,
every DSC's issuance by its CSCA and its uploader's CMS, the published folder, and the audit log against its signed
checkpoints; and it looks for certificates that expire within the warning window. Findings are
kept one open row per (kind, subject); a new one becomes an audit event. Safe to run twice or
concurrently: the database's partial unique index decides which run opens a finding.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction

from countries import trust_anchor
from countries.models import Status, TrustedParty
from countries.policy import configured_cms_policy, configured_policy
from gateway.audit.models import Action, Finding, Outcome, Severity, SignatureAuditRun
from gateway.audit.services import record_event
from gateway.audit.verification import verify_against_signed_heads
from gateway.pki import cms
from gateway.pki.certs import ReadCertificate, certificate_view, load_der_certificate, read_certificate, thumbprint
from gateway.pki.errors import Reason, Rejected
from gateway.pki.policy import CMS_FINDINGS_ONLY, CmsPolicy, DscPolicy, check_dsc
from gateway.signing.anchors import configured_trust_anchors
from gateway.signing.models import PublisherKey
from issuers import services as issuer_services
from issuers import signatures as issuer_signatures
from issuers.models import TrustedIssuer
from trustlist.models import SignerCertificate
from verifier.certificates import issued_by, load_anchor
from verifier.folder import verify_folder

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Observation:
    kind: str
    severity: Severity
    subject: str
    message: str
    country: str = ""


def run(*, at: dt.datetime) -> SignatureAuditRun:
    audit_run = SignatureAuditRun.objects.create(started_at=at)
    checked: dict[str, int] = {}
    observations: list[Observation] = []
    for name, check in _CHECKS:
        count = 0
        for item in check(at):
            if isinstance(item, Observation):
                observations.append(item)
            else:
                count += item
        checked[name] = count
    new = _record(observations, audit_run, at)
    audit_run.checked = checked
    audit_run.finished_at = at
    audit_run.new_findings = new
    audit_run.findings = Finding.objects.open().count()
    audit_run.save()
    logger.info(
        "signature audit %s: %s checked, %s open finding(s), %s new", audit_run.pk, checked, audit_run.findings, new
    )
    return audit_run


def _onboarded(at: dt.datetime) -> Iterator[Observation | int]:
    for party in TrustedParty.objects.local().exclude(status=Status.REMOVED).iterator():
        yield 1
        if not trust_anchor.is_intact(party):
            yield Observation(
                "ONBOARDED_SIGNATURE_INVALID",
                Severity.CRITICAL,
                party.thumbprint,
                f"{party.certificate_type} of {party.country}: trust-anchor signature or thumbprint does not verify",
                party.country,
            )


ISSUER_SIGNATURE_INVALID = "ISSUER_SIGNATURE_INVALID"


def _issuers(at: dt.datetime) -> Iterator[Observation | int]:
    """Every trusted issuer added here (active or suspended) against the configured trust anchors.
    The API and the publication leave out one that fails; when what fails differs from the
    findings open so far (an entry stopped or started verifying, with no change of its row: an
    edited row, a trust anchor replaced), the issuers are published again so that the published
    artifact follows (issuers.services.republish)."""
    anchors = configured_trust_anchors()
    failing: set[str] = set()
    for issuer in TrustedIssuer.objects.local().order_by("pk").iterator():
        yield 1
        try:
            issuer_signatures.check(issuer, anchors)
        except Rejected as exc:
            failing.add(str(issuer.uuid))
            yield Observation(
                ISSUER_SIGNATURE_INVALID,
                Severity.CRITICAL,
                str(issuer.uuid),
                f"trusted issuer {issuer.name[:100]!r} of {issuer.country} ({issuer.url_type} {issuer.url[:200]}): "
                f"the trust anchor's signature does not verify ({exc.reason}: {exc.detail}); not served nor published",
                issuer.country,
            )
    known = set(Finding.objects.open().filter(kind=ISSUER_SIGNATURE_INVALID).values_list("subject", flat=True))
    if failing != known:
        issuer_services.republish(at=at)


def _dscs(at: dt.datetime) -> Iterator[Observation | int]:
    cscas = {party.thumbprint: party for party in TrustedParty.objects.local().filter(certificate_type="CSCA")}
    policy, cms_policy = configured_policy(), configured_cms_policy()
    for row in SignerCertificate.objects.local().filter(revoked_at__isnull=True).iterator(chunk_size=2000):
        yield 1
        der = bytes(row.raw_data)
        if thumbprint(der) != row.thumbprint:
            yield Observation(
                "DSC_ALTERED",
                Severity.CRITICAL,
                row.thumbprint,
                f"DSC {row.kid} of {row.country}: stored certificate does not match its thumbprint",
                row.country,
            )
            continue
        try:
            message = cms.verify_detached(base64.b64decode(row.signature), der, CMS_FINDINGS_ONLY)
            if thumbprint(message.signer_der) != row.uploader_thumbprint:
                raise Rejected(Reason.CMS_SIGNER_MISMATCH, "signed by another certificate than recorded")
        except (Rejected, ValueError, binascii.Error) as exc:
            yield Observation(
                "DSC_UPLOAD_SIGNATURE_INVALID",
                Severity.CRITICAL,
                row.thumbprint,
                f"DSC {row.kid} of {row.country}: the uploader's CMS does not verify ({exc})",
                row.country,
            )
            continue
        try:
            read = read_certificate(der)
        except Rejected as exc:  # one row this library cannot read does not stop the audit
            detail = f"DSC {row.kid} of {row.country}: the stored certificate cannot be read ({exc.detail})"
            yield Observation("DSC_UNREADABLE", Severity.CRITICAL, row.thumbprint, detail, row.country)
            continue
        csca = cscas.get(row.issuer_thumbprint)
        if csca is None or not issued_by(read.certificate, certificate_view(bytes(csca.raw_data)), tbs=read.tbs):
            yield Observation(
                "DSC_CHAIN_BROKEN",
                Severity.CRITICAL,
                row.thumbprint,
                f"DSC {row.kid} of {row.country}: not verifiably issued by its recorded CSCA",
                row.country,
            )
            continue
        if judged := _judge_policy(row, read, message, policy, cms_policy):
            yield judged


def _judge_policy(
    row: SignerCertificate, read: ReadCertificate, message: cms.SignedMessage, policy: DscPolicy, cms_policy: CmsPolicy
) -> Observation | None:
    """The DSC judged again by the policy as configured now, as of its upload: what a relaxed check
    let through stays visible to auditors (INFO), and a DSC the policy would now refuse (a profile
    tightened since) is a WARNING for the operator to decide on."""
    subject = f"DSC {row.kid} of {row.country}"
    # Uploaded as its CSCA's own DSC: the row's issuer is itself (trustlist.services).
    own_csca = row.issuer_thumbprint == row.thumbprint
    try:
        for finding in message.findings:
            if cms_policy.refuses(finding):
                raise Rejected(finding.reason, f"its upload's CMS: {finding.detail}")
        findings = message.findings + check_dsc(read, at=row.created_at, policy=policy, is_onboarded_csca=own_csca)
    except Rejected as exc:
        detail = f"{subject}: the policy as configured now refuses it ({exc.reason}: {exc.detail})"
        return Observation("DSC_POLICY_REFUSED", Severity.WARNING, row.thumbprint, detail, row.country)
    if not findings:
        return None
    named = "; ".join(str(finding) for finding in findings)
    detail = f"{subject}: accepted by relaxed checks: {named}"
    return Observation("DSC_POLICY_RELAXED", Severity.INFO, row.thumbprint, detail, row.country)


def _publication(at: dt.datetime) -> Iterator[Observation | int]:
    root = Path(settings.GATEWAY_PUBLISH_DIR)
    if not (root / "index.jws").exists():
        return
    anchors = [load_anchor(Path(p).read_bytes()) for p in settings.GATEWAY_TRUST_ANCHOR_FILES]
    report = verify_folder(root, anchors, at)
    yield len(report.checked)
    for problem in report.problems:
        yield Observation("PUBLICATION_INVALID", Severity.CRITICAL, problem.split(":", 1)[0], problem)


def _audit_log(at: dt.datetime) -> Iterator[Observation | int]:
    """Against the stored checkpoints and the published index's head, as verify_audit_log does."""
    anchors = [load_anchor(Path(p).read_bytes()) for p in settings.GATEWAY_TRUST_ANCHOR_FILES]
    report = verify_against_signed_heads(anchors, at).report
    yield report.size
    for problem in report.problems:
        yield Observation("AUDIT_LOG_INCONSISTENT", Severity.CRITICAL, f"leaf {report.first_bad_index}", problem)


def _expiring(at: dt.datetime) -> Iterator[Observation | int]:
    horizon = at + dt.timedelta(days=settings.GATEWAY_AUDIT_EXPIRY_WARNING_DAYS)

    def judge(kind: str, subject: str, not_after: dt.datetime, country: str, what: str) -> Observation | None:
        if not_after <= at:
            return Observation(
                f"{kind}_EXPIRED", Severity.WARNING, subject, f"{what} expired on {not_after:%Y-%m-%d}", country
            )
        if not_after <= horizon:
            return Observation(
                f"{kind}_EXPIRING", Severity.INFO, subject, f"{what} expires on {not_after:%Y-%m-%d}", country
            )
        return None

    for row in SignerCertificate.objects.trusted().only("thumbprint", "kid", "country", "not_after").iterator():
        yield 1
        if finding := judge("DSC", row.thumbprint, row.not_after, row.country, f"DSC {row.kid} of {row.country}"):
            yield finding
    for party in TrustedParty.objects.active().local().iterator():
        yield 1
        certificate = certificate_view(bytes(party.raw_data))
        what = f"{party.certificate_type} of {party.country}"
        if finding := judge(
            party.certificate_type, party.thumbprint, certificate.not_valid_after_utc, party.country, what
        ):
            yield finding
    for key in PublisherKey.objects.announced():
        if key.certificate:
            yield 1
            certificate = load_der_certificate(bytes(key.certificate))
            if finding := judge(
                "PUBLISHER", key.label, certificate.not_valid_after_utc, "", f"publisher key {key.label}"
            ):
                yield finding


_CHECKS = (
    ("onboarded", _onboarded),
    ("issuers", _issuers),
    ("dscs", _dscs),
    ("published_artifacts", _publication),
    ("audit_log_leaves", _audit_log),
    ("expiry", _expiring),
)


def _record(observations: list[Observation], audit_run: SignatureAuditRun, at: dt.datetime) -> int:
    seen = {(o.kind, o.subject) for o in observations}
    new = 0
    for observation in observations:
        updated = (
            Finding.objects.open()
            .filter(kind=observation.kind, subject=observation.subject)
            .update(last_seen=at, message=observation.message, severity=observation.severity)
        )
        if updated:
            continue
        try:
            with transaction.atomic():
                Finding.objects.create(
                    kind=observation.kind,
                    severity=observation.severity,
                    subject=observation.subject,
                    country=observation.country,
                    message=observation.message,
                    first_seen=at,
                    last_seen=at,
                    first_run=audit_run,
                )
                record_event(
                    action=Action.AUDIT_FINDING,
                    outcome=Outcome.REJECTED,
                    at=at,
                    country=observation.country,
                    reason=observation.kind,
                    actor="signature audit",
                    subject_thumbprint=observation.subject[:64],
                    details={"severity": observation.severity, "message": observation.message[:500]},
                )
            new += 1
        except IntegrityError:  # a concurrent run opened it first
            continue
    for finding in Finding.objects.open():
        if (finding.kind, finding.subject) not in seen:
            finding.resolved_at = at
            finding.save(update_fields=["resolved_at"])
    return new
