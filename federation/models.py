"""Peers this gateway federates with, the entries kept aside, and the record of each sync.

An entry imported from a peer is a row of the content it belongs to (a DSC is a
``trustlist.models.SignerCertificate`` with ``source_gateway`` = the peer's id, as TNG does), so
every reader of the trust list sees it the same way; what is only federation's lives here.
"""

from __future__ import annotations

from django.db import models


class PeerKind(models.TextChoices):
    GATEWAY = "GATEWAY", "a gateway of this kind (its signed publication)"
    TNG = "TNG", "a TNG-compatible gateway (/trustList/certificate over mutual TLS)"
    DGCG = "DGCG", "a DGCG-compatible gateway (/trustList/DSC, CSCA, UPLOAD over mutual TLS)"


class Peer(models.Model):
    """A peer gateway, as an operator configured it and this gateway's trust anchor signed it
    (``federation.statements``): an entry whose signature does not verify is never used."""

    gateway_id = models.CharField(
        max_length=64, unique=True, help_text="the peer's own federation id (its GATEWAY_FEDERATION_ID)"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=PeerKind.choices, default=PeerKind.GATEWAY)
    endpoint = models.URLField(max_length=500, help_text="its publication folder's URL, or its API's base URL")
    trust_anchor = models.TextField(help_text="PEM of the peer's trust anchor certificate (pinned)")
    interval_seconds = models.PositiveIntegerField(null=True, blank=True, help_text="empty: not synced on schedule")
    signature = models.TextField(help_text="base64 detached CMS by this gateway's trust anchor over the statement")
    created_at = models.DateTimeField()
    # Status: written by each sync (federation.services), shown in the admin, /health/ and metrics.
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_sequence = models.BigIntegerField(null=True, blank=True, help_text="the peer's sequence held")
    # The peer's signed index last imported: the next catch-up starts from it (rollback, forks).
    last_index = models.BinaryField(blank=True, default=b"")
    last_issued_at = models.DateTimeField(null=True, blank=True, help_text="when the peer signed what is held")
    last_reason = models.CharField(max_length=64, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    failures = models.PositiveIntegerField(default=0, help_text="consecutive failed syncs")
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="a sync holds the peer until then")
    entries = models.PositiveIntegerField(default=0)
    conflicts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return f"{self.name} ({self.gateway_id})"


class ConflictReason(models.TextChoices):
    LOCAL_COUNTRY = "LOCAL_COUNTRY", "the country is onboarded here"
    LOCAL_CERTIFICATE = "LOCAL_CERTIFICATE", "the certificate is one of this gateway's own"
    KID_TAKEN = "KID_TAKEN", "another certificate here has the kid"
    OTHER_PEER = "OTHER_PEER", "another peer's entry holds the certificate"


class Conflict(models.Model):
    """A peer's entry kept aside (docs/federation.md, "Conflicts"): never imported while the
    conflict lasts, reported in the admin, in /health/ and in the sync's audit event."""

    peer = models.ForeignKey(Peer, on_delete=models.CASCADE, related_name="conflict_set")
    thumbprint = models.CharField(max_length=64)
    kid = models.CharField(max_length=20, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="")
    reason = models.CharField(max_length=20, choices=ConflictReason.choices)
    entry = models.JSONField(help_text="the entry as the peer published it")
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["peer", "thumbprint"], name="federation_one_conflict")]
        ordering = ("peer", "country", "thumbprint")

    def __str__(self) -> str:
        return f"{self.peer.gateway_id} {self.country} {self.thumbprint[:16]} {self.reason}"


class PeerSync(models.Model):
    """A sync that changed something: the peer's signed index that vouched for the entries it
    wrote (their provenance: ``SignerCertificate.source_sequence`` names it), and the counts."""

    peer = models.ForeignKey(Peer, on_delete=models.CASCADE, related_name="syncs")
    at = models.DateTimeField()
    sequence = models.BigIntegerField(null=True, blank=True, help_text="the peer's sequence (none: TNG, DGCG)")
    index = models.BinaryField(blank=True, default=b"", help_text="the peer's signed index (JWS) at that sequence")
    added = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    revoked = models.PositiveIntegerField(default=0)
    kept_aside = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-at", "-id")

    def __str__(self) -> str:
        return f"{self.peer.gateway_id} sequence {self.sequence}"
