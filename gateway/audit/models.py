"""Audit events: what the gateway did or refused, by whom, when.

Rows are only ever inserted (gateway.audit.services.record_event is the single writer); each
row is a leaf of the tamper-evident Merkle log (gateway.audit.log), which holds its encoded
bytes and hash.
"""

from __future__ import annotations

from django.db import models


class Action(models.TextChoices):
    ONBOARD = "ONBOARD"
    SUSPEND = "SUSPEND"
    REACTIVATE = "REACTIVATE"
    REMOVE = "REMOVE"
    GRANT_ROLE = "GRANT_ROLE"
    REVOKE_ROLE = "REVOKE_ROLE"
    UPLOAD = "UPLOAD"
    REVOKE = "REVOKE"
    AUTHENTICATE = "AUTHENTICATE"
    REQUEST = "REQUEST"
    PUBLISH = "PUBLISH"
    PUBLISHER_KEY = "PUBLISHER_KEY"
    AUDIT_FINDING = "AUDIT_FINDING"
    ADMIN = "ADMIN"
    RULE_UPLOAD = "RULE_UPLOAD"
    RULE_DELETE = "RULE_DELETE"
    VALUESET_IMPORT = "VALUESET_IMPORT"
    REVOCATION_BATCH_UPLOAD = "REVOCATION_BATCH_UPLOAD"
    REVOCATION_BATCH_DELETE = "REVOCATION_BATCH_DELETE"
    REVOCATION_BATCH_EXPIRED = "REVOCATION_BATCH_EXPIRED"  # the cleanup marked an expired batch deleted
    REVOCATION_BATCH_PURGE = "REVOCATION_BATCH_PURGE"  # the cleanup removed deleted batches for good
    PEER_ADD = "PEER_ADD"  # an operator configured a peer gateway
    PEER_CHANGE = "PEER_CHANGE"  # its interval changed, or it was removed
    FEDERATION_SYNC = "FEDERATION_SYNC"  # a sync of a peer: what it imported, or why it was refused
    ISSUER_ADD = "ISSUER_ADD"  # an operator added a trusted issuer (with the trust anchor's signature)
    ISSUER_SUSPEND = "ISSUER_SUSPEND"
    ISSUER_REACTIVATE = "ISSUER_REACTIVATE"
    ISSUER_REMOVE = "ISSUER_REMOVE"
    CMS_MIGRATION = "CMS_MIGRATION"  # a DSC, rule or revocation batch re-signed with a new CMS over the same payload
    REFERENCE_UPLOAD = "REFERENCE_UPLOAD"  # a country uploaded a new trusted reference (TNG)
    REFERENCE_UPDATE = "REFERENCE_UPDATE"  # ... replaced one of its own, named by uuid
    REFERENCE_DELETE = "REFERENCE_DELETE"  # ... deleted one of its own


class Outcome(models.TextChoices):
    SUCCESS = "SUCCESS"
    REJECTED = "REJECTED"
    UNCHANGED = "UNCHANGED"


class AuditEvent(models.Model):
    """One leaf of the audit log. ``leaf_index`` is gapless (assigned under the head row's lock
    in the event's own transaction), ``leaf_bytes`` is gateway.pki.leaf's canonical encoding of
    the fields, stored verbatim, and ``leaf_hash`` its RFC 9162 leaf hash. PostgreSQL triggers
    refuse UPDATE, DELETE and TRUNCATE (migration 0003)."""

    leaf_index = models.BigIntegerField(unique=True)
    leaf_bytes = models.BinaryField()
    leaf_hash = models.BinaryField(max_length=32)
    at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=64, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="", db_index=True)
    actor = models.CharField(max_length=255, blank=True, default="", help_text="user name or command that acted")
    authentication_thumbprint = models.CharField(max_length=64, blank=True, default="")
    uploader_thumbprint = models.CharField(max_length=64, blank=True, default="")
    subject_thumbprint = models.CharField(max_length=64, blank=True, default="", db_index=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("leaf_index",)

    def __str__(self) -> str:
        return (
            f"#{self.leaf_index} {self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.outcome} {self.country} {self.reason}"
        )


class AuditNode(models.Model):
    """Hash of a complete, aligned subtree of 2**level leaves (level >= 1), starting at leaf
    index * 2**level: what makes any proof O(log² n) lookups instead of a rehash of the log."""

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="unique_audit_node")]


class AuditLogHead(models.Model):
    """The one row that serialises appends: the tree size and its right edge ("frontier", the
    complete subtrees whose sizes are the set bits of ``size``, largest first, 32 bytes each)."""

    size = models.BigIntegerField(default=0)
    frontier = models.BinaryField(default=b"")


class Checkpoint(models.Model):
    """A signed tree head (RFC 9162 §4.10): size, root and time, signed by the publisher key."""

    tree_size = models.BigIntegerField()
    root_hash = models.BinaryField(max_length=32)
    issued_at = models.DateTimeField(db_index=True)
    origin = models.CharField(max_length=255)
    jws = models.TextField()

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} at {self.issued_at:%Y-%m-%d %H:%M:%S}"


class Severity(models.TextChoices):
    CRITICAL = "CRITICAL"
    WARNING = "WARNING"
    INFO = "INFO"


class SignatureAuditRun(models.Model):
    """One run of the signature audit (oversight.signature_audit)."""

    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    checked = models.JSONField(default=dict, help_text="objects checked, per kind")
    findings = models.IntegerField(default=0, help_text="findings open after this run")
    new_findings = models.IntegerField(default=0)

    class Meta:
        ordering = ("-id",)

    def __str__(self) -> str:
        return f"audit run {self.pk} at {self.started_at:%Y-%m-%d %H:%M:%S}: {self.findings} finding(s)"


class FindingQuerySet(models.QuerySet["Finding"]):
    def open(self) -> FindingQuerySet:
        return self.filter(resolved_at__isnull=True)


class Finding(models.Model):
    """Something a signature audit found wrong. One open row per (kind, subject): a later run
    that finds it again updates ``last_seen``; one that no longer finds it resolves it."""

    kind = models.CharField(max_length=48)
    severity = models.CharField(max_length=8, choices=Severity.choices)
    subject = models.CharField(max_length=128, help_text="thumbprint, path or leaf index")
    country = models.CharField(max_length=2, blank=True, default="", db_index=True)
    message = models.TextField()
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    first_run = models.ForeignKey(SignatureAuditRun, on_delete=models.PROTECT, related_name="+")

    objects = FindingQuerySet.as_manager()

    class Meta:
        ordering = ("-last_seen",)
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "subject"], condition=models.Q(resolved_at__isnull=True), name="one_open_finding"
            )
        ]

    def __str__(self) -> str:
        return f"{self.severity} {self.kind} {self.subject}"
