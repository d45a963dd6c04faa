"""CMS migration (DGCG's ``/cms-migration``): re-signing what a country's UPLOAD key signed (its
DSCs, business rules and revocation batches) with a renewed UPLOAD key, without withdrawing any
of it (dgc-gateway #150, #201).

The list (:func:`packages`) is DGCG's: each entity with the CMS that carries it (a DSC's stored
detached signature recombined with the DSC into an attached CMS, the fix of dgc-gateway #163),
its id and its type. A replacement (:func:`migrate`) is checked here as far as every type shares
it: the CMS (base64, structure, signature), then its signer, which must be a valid UPLOAD
certificate of the caller's country (``countries.uploaders``); the room that holds the entity
then checks and changes it with its own service (``trustlist``, ``rules``, ``revocation``
``replace_signature``): the entity exists, is the country's and is published, the new CMS signs
exactly the stored payload (unlike DGCG, for a DSC too: a migration cannot swap a certificate)
and is not older than the stored one. Every refusal is recorded here, once, with its named
reason (action ``CMS_MIGRATION``); nothing is stored. The API (``migration.api``) and the admin
(``migration.admin_views``) both come here.
"""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import Count

from countries.identity import ClientIdentity
from countries.models import CertificateType, Status, TrustedParty
from countries.policy import configured_cms_policy
from countries.services import verified_parties_by_type
from countries.uploaders import check_uploader, record_refusal
from gateway.audit.models import Action
from gateway.audit.refusals import record_refused
from gateway.pki import cms
from gateway.pki.certs import summary
from gateway.pki.errors import Reason, Rejected
from revocation import services as revocation_services
from revocation.models import RevocationBatch
from rules import services as rules_services
from rules.models import ValidationRule
from trustlist import services as trustlist_services
from trustlist.models import SignerCertificate

PARTIES = (CertificateType.UPLOAD,)
MAX_ENTITY_ID = 2**63 - 1  # DGCG's entityId is a Java long
# The package a person uploads in the admin: this many entries at most (and the request body limit).
MAX_PACKAGE_ITEMS = 1000


class EntityType(enum.StrEnum):
    """DGCG's CmsPackageDto.CmsPackageTypeDto."""

    DSC = "DSC"
    REVOCATION_LIST = "REVOCATION_LIST"
    VALIDATION_RULE = "VALIDATION_RULE"


@dataclass(frozen=True)
class Package:
    """One entity as ``GET /cms-migration`` lists it, with what people see of it in the admin."""

    cms: str  # base64 of the attached CMS that carries the entity now
    entity_id: int
    type: EntityType
    uploader: str  # thumbprint of the UPLOAD certificate that signed it
    label: str  # "DSC <kid>", "rule VR-XA-0001 1.0.0", "batch <batchId>"

    def wire(self) -> dict[str, Any]:
        return {"cms": self.cms, "entityId": self.entity_id, "type": str(self.type)}


@dataclass(frozen=True)
class Request:
    """One replacement: DGCG's CmsPackageDto as a client posts it."""

    cms_text: str
    entity_id: int
    type: EntityType


def packages(country: str, *, uploader: str | None = None) -> Iterator[Package]:
    """What ``country`` has stored, DGCG's order: its signer certificates not revoked (TNG's groups
    too: each was uploaded with a CMS of its UPLOAD key), its revocation batches not deleted and
    every version of its rules; each by id. ``uploader``: only what that UPLOAD certificate signed."""
    dscs = SignerCertificate.objects.local().trusted().for_country(country)
    batches = RevocationBatch.objects.of_country(country).filter(deleted=False)
    rules = ValidationRule.objects.of_country(country)
    if uploader is not None:
        dscs, batches, rules = (rows.filter(uploader_thumbprint=uploader) for rows in (dscs, batches, rules))
    for row in dscs.order_by("pk").iterator(chunk_size=500):
        if not row.signature:
            continue
        der = bytes(row.raw_data)
        attached = cms.attach(base64.b64decode(row.signature), der)
        yield Package(
            base64.b64encode(attached).decode("ascii"),
            row.pk,
            EntityType.DSC,
            row.uploader_thumbprint,
            f"{row.group} {row.effective_kid}",
        )
    for batch in batches.order_by("pk").iterator(chunk_size=500):
        yield Package(
            batch.cms, batch.pk, EntityType.REVOCATION_LIST, batch.uploader_thumbprint, f"batch {batch.batch_id}"
        )
    for rule in rules.order_by("pk").iterator(chunk_size=500):
        yield Package(
            rule.cms,
            rule.pk,
            EntityType.VALIDATION_RULE,
            rule.uploader_thumbprint,
            f"rule {rule.identifier} {rule.version}",
        )


def signed_by(thumbprints: Iterable[str]) -> dict[str, Counter[EntityType]]:
    """For each UPLOAD certificate of ``thumbprints``, how many entities it signed that a migration
    would re-sign (those :func:`packages` lists), by type: three counting queries."""
    wanted = sorted(set(thumbprints))
    counts: dict[str, Counter[EntityType]] = {thumb: Counter() for thumb in wanted}
    querysets = (
        (EntityType.DSC, SignerCertificate.objects.local().trusted().exclude(signature="")),
        (EntityType.REVOCATION_LIST, RevocationBatch.objects.filter(deleted=False)),
        (EntityType.VALIDATION_RULE, ValidationRule.objects.all()),
    )
    for entity_type, rows in querysets:
        for thumb, count in (
            rows.filter(uploader_thumbprint__in=wanted)
            .order_by()
            .values_list("uploader_thumbprint")
            .annotate(n=Count("pk"))
        ):
            counts[thumb][entity_type] = count
    return counts


@dataclass(frozen=True)
class UploadCertificate:
    """An onboarded UPLOAD certificate of a country, with what it signed that is still stored."""

    party: TrustedParty
    common_name: str
    not_after: dt.datetime
    signed: Counter[EntityType]

    @property
    def total(self) -> int:
        return sum(self.signed.values())


def upload_certificates(countries: Iterable[str] | None, *, everything: bool = False) -> list[UploadCertificate]:
    """The UPLOAD certificates of ``countries`` (None: every country) that are active or still
    signed something stored (a suspended or removed one may have: what it signed is still
    published until a migration re-signs it), newest expiry last, each with its counts
    (:func:`signed_by`). ``everything``: the others too."""
    parties = TrustedParty.objects.local().of_type(CertificateType.UPLOAD)
    if countries is not None:
        parties = parties.filter(country__in=list(countries))
    rows = list(parties.order_by("country", "pk"))
    counts = signed_by(party.thumbprint for party in rows)
    found = []
    for party in rows:
        signed = counts.get(party.thumbprint, Counter())
        if not everything and party.status != Status.ACTIVE and not sum(signed.values()):
            continue
        described = summary(bytes(party.raw_data))
        found.append(UploadCertificate(party, described.subject.common_name, described.not_after, signed))
    return sorted(found, key=lambda item: (item.party.country, item.not_after, item.party.pk))


def parse_request(value: Any) -> Request:
    """DGCG's CmsPackageDto: ``{"cms": base64, "entityId": long, "type": ...}`` (other members are
    ignored, as Jackson does; an entityId may be a JSON number or, as Jackson coerces, a string of
    digits). Rejected INVALID_REQUEST names what is wrong."""
    if not isinstance(value, dict):
        raise Rejected(Reason.INVALID_REQUEST, 'a package is a JSON object {"cms", "entityId", "type"}')
    cms_text, entity_id, entity_type = value.get("cms"), value.get("entityId"), value.get("type")
    if not isinstance(cms_text, str) or not cms_text:
        raise Rejected(Reason.INVALID_REQUEST, "cms must be the base64 of a CMS message")
    if isinstance(entity_id, str) and entity_id.isascii() and entity_id.isdigit() and len(entity_id) <= 19:
        entity_id = int(entity_id)
    if isinstance(entity_id, bool) or not isinstance(entity_id, int) or not 1 <= entity_id <= MAX_ENTITY_ID:
        raise Rejected(Reason.INVALID_REQUEST, "entityId must be the positive integer GET /cms-migration lists")
    if not isinstance(entity_type, str) or entity_type not in EntityType.__members__:
        raise Rejected(Reason.INVALID_REQUEST, f"type must be one of {', '.join(EntityType)}")
    return Request(cms_text, entity_id, EntityType(entity_type))


def parse_json(raw: bytes | str) -> Any:
    """JSON as RFC 8259 has it (no NaN or Infinity, no trailing data), or Rejected MALFORMED_BODY."""
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise Rejected(Reason.MALFORMED_BODY, "the body is not JSON") from None


def _no_constant(name: str) -> Any:
    raise ValueError(name)


Replacer = Callable[..., bool]
_REPLACERS: dict[EntityType, Replacer] = {
    EntityType.DSC: lambda entity_id, **kw: trustlist_services.replace_signature(row_id=entity_id, **kw),
    EntityType.REVOCATION_LIST: lambda entity_id, **kw: revocation_services.replace_signature(batch_pk=entity_id, **kw),
    EntityType.VALIDATION_RULE: lambda entity_id, **kw: rules_services.replace_signature(rule_id=entity_id, **kw),
}


def migrate(
    *, identity: ClientIdentity, request: Request, at: dt.datetime, actor: str = "", wrapped: bool = False
) -> bool:
    """Replace the CMS of one entity of ``identity``'s country with ``request``'s. Returns whether
    it changed (the CMS stored already: a retry, recorded as UNCHANGED). ``wrapped``: the base64
    may be broken into lines (what a person pastes or a file holds); the API's is DGCG's, without.
    Raises Rejected with the named reason, recorded."""
    message: cms.SignedMessage | None = None
    try:
        text = "".join(request.cms_text.split()) if wrapped else request.cms_text
        message = cms.parse_attached(cms.decode_base64_body(text), configured_cms_policy())
        uploads = verified_parties_by_type(
            country=identity.country, certificate_types=list(PARTIES), prefetched=identity.prefetched
        )[CertificateType.UPLOAD]
        check_uploader(message, identity, uploads, at)
        return _REPLACERS[request.type](
            request.entity_id, message=message, country=identity.country, at=at, actor=actor, via=identity.thumbprint
        )
    except Rejected as exc:
        record_refusal(
            Action.CMS_MIGRATION,
            exc,
            identity,
            at=at,
            actor=actor,
            signer_der=message.signer_der if message else None,
            type=str(request.type),
            entityId=str(request.entity_id),
        )
        raise


@dataclass(frozen=True)
class ItemResult:
    """What became of one entry of a package a person uploaded."""

    position: int  # 1-based, in the package
    entity: str  # "DSC 12", or what could be read of it
    changed: bool = False
    refusal: Rejected | None = None


def migrate_package(*, identity: ClientIdentity, text: str, at: dt.datetime, actor: str) -> list[ItemResult]:
    """A person's bulk migration in the admin: the JSON ``GET /cms-migration`` returns (or the
    admin's package of one UPLOAD certificate), each ``cms`` replaced by one signed offline with
    the new UPLOAD key (``manage.py sign_migration``). Each entry goes through :func:`migrate` on
    its own (one refused entry does not hold the others back). A package that cannot be read at
    all is Rejected (recorded)."""
    try:
        value = parse_json(text)
        if not isinstance(value, list) or not value:
            raise Rejected(Reason.INVALID_REQUEST, "a package is a non-empty JSON array, as GET /cms-migration lists")
        if len(value) > MAX_PACKAGE_ITEMS:
            raise Rejected(Reason.INVALID_REQUEST, f"at most {MAX_PACKAGE_ITEMS} entries in one package")
    except Rejected as exc:
        record_refused(exc, action=Action.CMS_MIGRATION, at=at, country=identity.country, actor=actor)
        raise
    results: list[ItemResult] = []
    for position, item in enumerate(value, start=1):
        try:
            request = parse_request(item)
        except Rejected as exc:
            record_refused(
                exc,
                action=Action.CMS_MIGRATION,
                at=at,
                country=identity.country,
                actor=actor,
                details={"position": position},
            )
            results.append(ItemResult(position, "(unreadable entry)", refusal=exc))
            continue
        entity = f"{request.type} {request.entity_id}"
        try:
            changed = migrate(identity=identity, request=request, at=at, actor=actor, wrapped=True)
        except Rejected as exc:
            results.append(ItemResult(position, entity, refusal=exc))
        else:
            results.append(ItemResult(position, entity, changed=changed))
    return results
