"""Signer certificates (DSCs and TNG trusted certificates) uploaded by countries."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import OuterRef, Q, Subquery

from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.outbox.models import Change
from publication.models import Publication


class Group(models.TextChoices):
    """TNG signer-information groups. Unlike TNG we keep SIGN/AUTH/CUSTOM as sent. Labelled with
    their names: people know them as "DSC", never as Django's default title case ("Dsc")."""

    DSC = "DSC", "DSC"
    SIGN = "SIGN", "SIGN"
    AUTH = "AUTH", "AUTH"
    CUSTOM = "CUSTOM", "CUSTOM"
    DESC = "DESC", "DESC"


class SignerCertificateQuerySet(models.QuerySet["SignerCertificate"]):
    def trusted(self) -> SignerCertificateQuerySet:
        return self.filter(revoked_at__isnull=True)

    def revoked(self) -> SignerCertificateQuerySet:
        return self.filter(revoked_at__isnull=False)

    def for_country(self, country: str) -> SignerCertificateQuerySet:
        return self.filter(country=country)

    def local(self) -> SignerCertificateQuerySet:
        return self.filter(source_gateway="")

    def with_provenance(self) -> SignerCertificateQuerySet:
        """Annotate who uploaded and revoked each row (from the audit log) and the sequences that
        first published its upload and its revocation, in the same query: correlated subqueries
        on indexed columns, so a page of rows costs one query, not one per row.

        A publication S holds every outbox change up to its high-water mark, so the sequence
        that first published a change is the earliest completed one whose mark reaches it
        (marks never decrease as sequences increase: publishers are serialised)."""

        def actor(action: str) -> Subquery:
            events = AuditEvent.objects.filter(
                subject_thumbprint=OuterRef("thumbprint"), action=action, outcome=Outcome.SUCCESS
            )
            return Subquery(events.order_by("-leaf_index").values("actor")[:1])

        def first_publication(kind: str) -> Subquery:
            change = Change.objects.filter(thumbprint=OuterRef(OuterRef("thumbprint")), kind=kind)
            first_change = Subquery(change.order_by("id").values("id")[:1])
            published = Publication.objects.published().filter(change_high_water__gte=first_change)
            return Subquery(published.order_by("change_high_water", "id").values("id")[:1])

        return self.annotate(
            uploaded_by=actor(Action.UPLOAD),
            revoked_by=actor(Action.REVOKE),
            first_published=first_publication("UPLOAD"),
            revocation_published=first_publication("REVOKE"),
        )


class SignerCertificate(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    country = models.CharField(max_length=2, db_index=True)
    thumbprint = models.CharField(max_length=64, unique=True)
    # base64(SHA-256[0:8]); unique, which is DGCG's 16-hex-character thumbprint-prefix check
    # enforced by the database, so concurrent uploads cannot both win.
    kid = models.CharField(max_length=12, unique=True)
    # TNG's kid. Unique among certificates not revoked (a partial index: concurrent uploads
    # cannot both take one); a revoked certificate's kid may be taken again by its own country
    # (trustlist.services._check_kids_free).
    custom_kid = models.CharField(max_length=20, null=True, blank=True, db_index=True)
    raw_data = models.BinaryField(help_text="certificate DER")
    signature = models.TextField(help_text="base64 detached CMS by the uploader over raw_data")
    uploader_thumbprint = models.CharField(max_length=64)
    # When ``signature`` was last replaced by a CMS migration (re-signed with a renewed UPLOAD key,
    # migration.services): DGCG's If-Modified-Since delta lists the DSC again from then on.
    resigned_at = models.DateTimeField(null=True, blank=True, db_index=True)
    group = models.CharField(max_length=8, choices=Group.choices, default=Group.DSC)
    domain = models.CharField(max_length=32, default="DCC")
    properties = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    # Indexed: a peer's sync, its removal and /health/'s count read the rows of one peer, which a
    # table of 100,000 imported rows (and the country's own) must not scan (docs/federation.md).
    source_gateway = models.CharField(max_length=64, blank=True, default="", db_index=True)
    # Federation's provenance of an imported row (docs/federation.md): the gateway where the
    # certificate was onboarded (a peer may relay another's), and the peer's sequence that last
    # wrote it (federation.models.PeerSync keeps that signed index). Empty for local rows.
    source_origin = models.CharField(max_length=64, blank=True, default="")
    source_sequence = models.BigIntegerField(null=True, blank=True)
    # Kept from the certificate at upload, so publication need not parse every DER again.
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    usages = models.JSONField(default=list, help_text="DCC types it may sign (EKU intersection rule)")
    public_key_jwk = models.JSONField(default=dict, help_text="RFC 7517 JWK of the public key (for DID documents)")
    # Indexed: a change to a CSCA is published as a change to each DSC it issued (publication).
    issuer_thumbprint = models.CharField(
        max_length=64, blank=True, default="", db_index=True, help_text="the CSCA that issued it"
    )
    # What relaxed policy checks let through (gateway.pki.findings; docs/policy.md): shown to
    # the country's admins, operators and auditors, and re-judged by the signature audit.
    policy_findings = models.JSONField(default=list, blank=True)
    # SHA-256 of the TBSCertificate as received: the certificate's identity whatever its outer
    # encoding. An ECDSA signature (r, n - s), or a non-DER wrapper a relaxed policy takes, makes
    # other bytes (thumbprint, kid) of the same signed certificate; a revoked DSC must not come
    # back that way (trustlist.services, "one_local_row_per_tbs").
    tbs_sha256 = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revocation_reason = models.CharField(max_length=255, blank=True, default="")

    objects = SignerCertificateQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["country", "revoked_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["custom_kid"], condition=Q(revoked_at__isnull=True), name="trustlist_custom_kid_in_use"
            ),
            # Local rows only: federation keeps a peer's entries for countries onboarded here aside.
            models.UniqueConstraint(
                fields=["tbs_sha256"], condition=Q(source_gateway="") & ~Q(tbs_sha256=""), name="one_local_row_per_tbs"
            ),
        ]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "trusted"
        return f"{self.country} {self.group} {self.kid} ({state})"

    @property
    def effective_kid(self) -> str:
        return self.custom_kid or self.kid


def country_has_kid(country: str, kid: str) -> bool:
    """Whether ``country`` has a DSC of DGCG's kid ``kid``, trusted or revoked: a revocation batch
    may name a revoked DSC's kid, whose certificates were issued while it was trusted
    (countries.signer_kids, which the revocation room asks)."""
    return SignerCertificate.objects.filter(country=country, kid=kid).exists()
