"""Uploading, deleting and re-signing business rules, importing value sets: every change audited and written
to the outbox (publication then publishes the "rules" or "valuesets" artifact), every refusal
audited with its named reason and nothing stored."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import re
from typing import Any

from django.db import IntegrityError, transaction

from countries.identity import ClientIdentity
from countries.models import CertificateType
from countries.policy import configured_cms_policy
from countries.services import verified_parties_by_type
from countries.uploaders import check_uploader, record_refusal, record_resigned, replaces
from gateway.audit.models import Action, Outcome
from gateway.audit.refusals import record_refused
from gateway.audit.services import record_event
from gateway.outbox.services import record_change
from gateway.pki import cms
from gateway.pki.certs import thumbprint
from gateway.pki.errors import Reason, Rejected
from gateway.pki.findings import findings_detail
from rules import checks, logic, valuesets
from rules.models import ValidationRule, ValueSet
from verifier.semver import semver_key

RULE_CHANGE = "RULE"  # outbox kind: the "rules" artifact (rules.content)
VALUESET_CHANGE = "VALUESET"  # outbox kind: the "valuesets" artifact
RULE_ID = re.compile(r"(GR|VR|TR|RR|IR)-[A-Z]{2}-\d{4}")
PARTIES = (CertificateType.UPLOAD,)


def upload_rule(*, identity: ClientIdentity, cms_der: bytes, at: dt.datetime, actor: str = "") -> ValidationRule:
    """DGCG's POST /rules: the CMS's payload is the rule JSON."""
    message: cms.SignedMessage | None = None
    try:
        message = _signed(cms_der, identity, at)
        rule = checks.parse(message.payload)
        identifier = rule.get("Identifier") if isinstance(rule.get("Identifier"), str) else ""
        checked = checks.check_rule(rule, country=identity.country, at=at, previous=_previous(identifier))
        logic.check_logic(rule["Logic"], rule["AffectedFields"])
        return _store(checked, message, identity, at, actor)
    except Rejected as exc:
        record_refusal(
            Action.RULE_UPLOAD, exc, identity, at=at, actor=actor, signer_der=message.signer_der if message else None
        )
        raise


def delete_rule(*, identity: ClientIdentity, cms_der: bytes, at: dt.datetime, actor: str = "") -> int:
    """DGCG's DELETE /rules: the CMS's payload is a rule identifier; every version goes."""
    message: cms.SignedMessage | None = None
    try:
        message = _signed(cms_der, identity, at)
        identifier = message.payload.decode("ascii", "replace").strip()
        if not RULE_ID.fullmatch(identifier):
            raise Rejected(Reason.RULE_ID_INVALID, "the payload is not a rule identifier")
        if identifier.split("-")[1] != identity.country:
            raise Rejected(Reason.RULE_ID_COUNTRY, "Country Code in Identifier does not match country.")
        return delete_versions(identifier, country=identity.country, at=at, actor=actor, via=identity.thumbprint)
    except Rejected as exc:
        record_refusal(
            Action.RULE_DELETE, exc, identity, at=at, actor=actor, signer_der=message.signer_der if message else None
        )
        raise


def delete_by_person(identifier: str, *, country: str, at: dt.datetime, actor: str) -> int:
    """A person deletes a rule in the admin (their permission checked by the caller through
    countries.permissions); a refusal (the rule went meanwhile) is recorded here, as the API's are."""
    try:
        return delete_versions(identifier, country=country, at=at, actor=actor)
    except Rejected as exc:
        record_refused(
            exc, action=Action.RULE_DELETE, at=at, country=country, actor=actor, details={"identifier": identifier}
        )
        raise


def delete_versions(identifier: str, *, country: str, at: dt.datetime, actor: str, via: str = "") -> int:
    """Delete every version of a rule (DGCG's semantics), recording what went; a person in the admin
    comes here directly (their permission checked by the caller)."""
    with transaction.atomic():
        rows = list(ValidationRule.objects.select_for_update().filter(identifier=identifier, country=country))
        if not rows:
            raise Rejected(Reason.RULE_NOT_FOUND, "Validation Rule does not exist")
        ValidationRule.objects.filter(pk__in=[row.pk for row in rows]).delete()
        record_event(
            action=Action.RULE_DELETE,
            outcome=Outcome.SUCCESS,
            at=at,
            country=country,
            actor=actor,
            authentication_thumbprint=via,
            details={"identifier": identifier, "versions": sorted(row.version for row in rows)},
        )
        record_change(kind=RULE_CHANGE, at=at, country=country)
    return len(rows)


def replace_signature(
    *, rule_id: int, message: cms.SignedMessage, country: str, at: dt.datetime, actor: str = "", via: str = ""
) -> bool:
    """A CMS migration of one stored rule version (``migration.services``, which checked that a
    valid UPLOAD certificate of ``country`` signed ``message``): its CMS (``GET /rules``) and its
    detached signature (the published ``rules`` artifact) become the new CMS's, if it signs exactly
    the rule's stored bytes (as DGCG requires) and is not older than the stored one. The rule stays
    in force and published throughout. Returns whether it changed (the same CMS again changes
    nothing: a retry). A refusal is recorded by the caller."""
    with transaction.atomic():
        row = ValidationRule.objects.select_for_update().filter(pk=rule_id).first()
        if row is None:
            raise Rejected(Reason.MIGRATION_NOT_FOUND, "ValidationRule to be updated does not exist.")
        if row.country != country:
            raise Rejected(Reason.MIGRATION_COUNTRY, f"the rule is {row.country}'s, not {country}'s")
        if not hmac.compare_digest(message.payload, bytes(row.raw)):
            raise Rejected(Reason.MIGRATION_PAYLOAD_MISMATCH, "New cms payload does not match present payload")
        changed = replaces(base64.b64decode(row.cms), message)
        previous = row.uploader_thumbprint
        if changed:
            row.cms = base64.b64encode(message.cms_der).decode("ascii")
            row.signature = base64.b64encode(cms.detach(message.cms_der)).decode("ascii")
            row.uploader_thumbprint = thumbprint(message.signer_der)
            row.save(update_fields=["cms", "signature", "uploader_thumbprint"])
        record_resigned(
            message,
            changed=changed,
            previous_uploader=previous,
            at=at,
            country=country,
            actor=actor,
            via=via,
            details={
                "type": "VALIDATION_RULE",
                "entityId": row.pk,
                "identifier": row.identifier,
                "version": row.version,
            },
        )
        if changed:
            record_change(kind=RULE_CHANGE, at=at, country=country)  # the "rules" artifact carries the signature
        return changed


def import_value_sets(data: bytes, *, source: str, at: dt.datetime, actor: str) -> int:
    """Replace the value sets with those of ``data`` (validated whole first: nothing changes
    unless all of it is valid), in one transaction. Returns how many there are."""
    try:
        parsed = valuesets.parse(data, today=at.date())
    except Rejected as exc:
        record_refused(exc, action=Action.VALUESET_IMPORT, at=at, actor=actor, details={"source": source[:200]})
        raise
    with transaction.atomic():
        before = {row.value_set_id: row.document for row in ValueSet.objects.select_for_update()}
        after = {value_set.value_set_id: value_set.document for value_set in parsed}
        if before == after:
            return len(after)
        ValueSet.objects.exclude(value_set_id__in=after).delete()
        for value_set in parsed:
            ValueSet.objects.update_or_create(
                value_set_id=value_set.value_set_id,
                defaults={
                    "value_set_date": value_set.date,
                    "document": value_set.document,
                    "codes": list(value_set.codes),
                    "source": source[:500],
                    "imported_at": at,
                },
            )
        record_event(
            action=Action.VALUESET_IMPORT,
            outcome=Outcome.SUCCESS,
            at=at,
            actor=actor,
            details={
                "source": source[:200],
                "added": sorted(set(after) - set(before)),
                "changed": sorted(key for key in set(after) & set(before) if after[key] != before[key]),
                "removed": sorted(set(before) - set(after)),
            },
        )
        record_change(kind=VALUESET_CHANGE, at=at)
    return len(after)


def _signed(cms_der: bytes, identity: ClientIdentity, at: dt.datetime) -> cms.SignedMessage:
    message = cms.parse_attached(cms_der, configured_cms_policy())
    uploads = verified_parties_by_type(
        country=identity.country, certificate_types=list(PARTIES), prefetched=identity.prefetched
    )[CertificateType.UPLOAD]
    check_uploader(message, identity, uploads, at)
    return message


def _previous(identifier: str) -> checks.Previous | None:
    versions = list(ValidationRule.objects.versions_of(identifier).values_list("version", "valid_from"))
    if not versions:
        return None
    version, valid_from = max(versions, key=lambda item: semver_key(item[0]))
    return checks.Previous(version, valid_from)


def _store(
    checked: checks.CheckedRule, message: cms.SignedMessage, identity: ClientIdentity, at: dt.datetime, actor: str
) -> ValidationRule:
    rule: dict[str, Any] = checked.rule
    try:
        with transaction.atomic():
            row = ValidationRule.objects.create(
                country=identity.country,
                identifier=checked.identifier,
                version=checked.version,
                rule_type=rule["Type"],
                certificate_type=rule["CertificateType"],
                valid_from=checked.valid_from,
                valid_to=checked.valid_to,
                raw=message.payload,
                cms=base64.b64encode(message.cms_der).decode("ascii"),
                signature=base64.b64encode(cms.detach(message.cms_der)).decode("ascii"),
                uploader_thumbprint=thumbprint(message.signer_der),
                created_at=at,
            )
            record_event(
                action=Action.RULE_UPLOAD,
                outcome=Outcome.SUCCESS,
                at=at,
                country=identity.country,
                actor=actor,
                authentication_thumbprint=identity.thumbprint,
                uploader_thumbprint=row.uploader_thumbprint,
                details={
                    "identifier": row.identifier,
                    "version": row.version,
                    "type": row.rule_type,
                    **findings_detail(message.findings),
                },
            )
            record_change(kind=RULE_CHANGE, at=at, country=identity.country)
    except IntegrityError:
        # The same version uploaded twice at once: the unique index decides, the version check names it.
        raise Rejected(Reason.RULE_VERSION, f"version {checked.version} of {checked.identifier} exists") from None
    return row
