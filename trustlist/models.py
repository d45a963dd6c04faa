"""Signer certificates (DSCs and TNG trusted certificates) uploaded by countries."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import OuterRef, Subquery


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

    def issued_by(self, csca_thumbprints: list[str]) -> SignerCertificateQuerySet:
        """Rows whose issuing CSCA (checked at upload) is one of these."""
        return self.filter(issuer_thumbprint__in=csca_thumbprints)

    def with_provenance(self) -> SignerCertificateQuerySet:
        """Annotate who uploaded and revoked each row (from the audit log) and the sequences that
        first published its upload and its revocation, in the same query: correlated subqueries
        on indexed columns, so a page of rows costs one query, not one per row.

        A publication S holds every outbox change up to its high-water mark, so the sequence
        that first published a change is the earliest completed one whose mark reaches it
        (marks never decrease as sequences increase: publishers are serialised)."""
        from gateway.audit.models import Action, AuditEvent, Outcome
        from gateway.outbox.models import Change

        def actor(action: str) -> Subquery:
            events = AuditEvent.objects.filter(
                subject_thumbprint=OuterRef("thumbprint"), action=action, outcome=Outcome.SUCCESS
            )
            return Subquery(events.order_by("-leaf_index").values("actor")[:1])

        def first_publication(kind: str) -> Subquery:
            change = Change.objects.filter(thumbprint=OuterRef(OuterRef("thumbprint")), kind=kind)
            first_change = Subquery(change.order_by("id").values("id")[:1])
            published = Publication.objects.filter(change_high_water__gte=first_change, index_sha256__gt="")
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
    custom_kid = models.CharField(max_length=20, null=True, blank=True, unique=True)
    raw_data = models.BinaryField(help_text="certificate DER")
    signature = models.TextField(help_text="base64 detached CMS by the uploader over raw_data")
    uploader_thumbprint = models.CharField(max_length=64)
    group = models.CharField(max_length=8, choices=Group.choices, default=Group.DSC)
    domain = models.CharField(max_length=32, default="DCC")
    properties = models.JSONField(default=dict, blank=True)
    version = models.PositiveIntegerField(default=1)
    source_gateway = models.CharField(max_length=64, blank=True, default="")
    # Kept from the certificate at upload, so publication need not parse every DER again.
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    usages = models.JSONField(default=list, help_text="DCC types it may sign (EKU intersection rule)")
    public_key_jwk = models.JSONField(default=dict, help_text="RFC 7517 JWK of the public key (for DID documents)")
    # Indexed: a change to a CSCA is published as a change to each DSC it issued (publication).
    issuer_thumbprint = models.CharField(
        max_length=64, blank=True, default="", db_index=True, help_text="the CSCA that issued it"
    )
    created_at = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True, db_index=True)
    revocation_reason = models.CharField(max_length=255, blank=True, default="")

    objects = SignerCertificateQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["country", "revoked_at"])]

    def __str__(self) -> str:
        state = "revoked" if self.revoked_at else "trusted"
        return f"{self.country} {self.group} {self.kid} ({state})"

    @property
    def effective_kid(self) -> str:
        return self.custom_kid or self.kid


class PublisherKeyState(models.TextChoices):
    PENDING = "PENDING", "CSR issued, waiting for the trust anchor's certificate"
    NEXT = "NEXT", "certified, announced as the next key"
    CURRENT = "CURRENT", "signs publications"
    RETIRED = "RETIRED", "no longer used"


class PublisherKey(models.Model):
    """A publication signing key. The private key stays in a file (or, later, an HSM); the
    database holds its path, its CSR and the certificate the trust anchor issued for it."""

    label = models.CharField(max_length=64, unique=True)
    key_path = models.CharField(max_length=512)
    csr_pem = models.TextField()
    certificate = models.BinaryField(null=True, blank=True, help_text="DER, signed by the trust anchor")
    state = models.CharField(max_length=8, choices=PublisherKeyState.choices, default=PublisherKeyState.PENDING)
    created_at = models.DateTimeField()
    state_changed_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.label} ({self.state})"


class Publication(models.Model):
    """One published sequence. The primary key *is* the sequence number: the database assigns
    it, it never repeats and never decreases (publishers are serialised by a lock as well).

    Every sequence has its own delta. Its index names the most recent full lists, which may be
    those of an earlier sequence (``full_sequence``): the ``trust_list_*``, ``revocation_list_*``
    and ``*_count`` fields describe those lists (docs/publication-format.md)."""

    id = models.BigAutoField(primary_key=True)
    issued_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    previous = models.BigIntegerField(null=True, blank=True, help_text="sequence this one's delta starts from")
    change_high_water = models.BigIntegerField(help_text="last outbox change included")
    full_sequence = models.BigIntegerField(
        null=True, blank=True, help_text="sequence of the full lists its index names (at most its own)"
    )
    trust_list_sha256 = models.CharField(max_length=64)
    trust_list_length = models.BigIntegerField()
    revocation_list_sha256 = models.CharField(max_length=64)
    revocation_list_length = models.BigIntegerField()
    delta_sha256 = models.CharField(max_length=64)
    delta_length = models.BigIntegerField()
    chain_start = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="oldest sequence the index's chain of deltas leads from; empty for indexes of version 2 "
        "and older, whose deltas name no previous delta",
    )
    # Spans: the changes from one full-list sequence to a later one, for verifiers beyond the reach
    # of the chain of deltas. Set on a full-list sequence X once an index names its full lists.
    span_start = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="for a full-list sequence X that ends a chain of spans: the oldest sequence that chain "
        "leads from (X itself when none leads to X: a reset, or the first)",
    )
    span_previous = models.BigIntegerField(
        null=True, blank=True, help_text="the sequence X's span starts from (empty: no span ends at X)"
    )
    span_sha256 = models.CharField(max_length=64, blank=True, default="")
    span_length = models.BigIntegerField(default=0)
    # Deltas and spans were JWS (delta.jws, span.jws) until index version 5, plain JSON since
    # (delta.json, span.json): a chain that crosses the upgrade names files of both kinds, and a
    # sequence published before it may end a span written after it. The database default marks
    # rows that a publisher of the previous version inserts during a rolling upgrade as JWS.
    delta_plain = models.BooleanField(
        default=True, db_default=False, help_text="its delta is plain JSON (index version 5 on); else JWS"
    )
    span_plain = models.BooleanField(
        default=True, db_default=False, help_text="the span ending here is plain JSON (index version 5 on); else JWS"
    )
    index_sha256 = models.CharField(max_length=64)
    publisher_kid = models.CharField(max_length=64)
    trusted_count = models.IntegerField()
    revoked_count = models.IntegerField()

    class Meta:
        ordering = ("-id",)
        # The first sequence whose mark reaches a change (SignerCertificateQuerySet.with_provenance).
        indexes = [models.Index(fields=["change_high_water", "id"], name="publication_high_water")]

    @property
    def sequence(self) -> int:
        return self.id

    def __str__(self) -> str:
        return f"#{self.id} at {self.issued_at:%Y-%m-%d %H:%M:%S}"
