"""The published sequences."""

from __future__ import annotations

from django.db import models


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
        # The table is named after the trust-list app: an upgrade from a release where this
        # model was the trust list's keeps its rows in place (see this app's 0001 migration).
        db_table = "trustlist_publication"
        ordering = ("-id",)
        # The first sequence whose mark reaches a change (SignerCertificateQuerySet.with_provenance).
        indexes = [models.Index(fields=["change_high_water", "id"], name="publication_high_water")]

    @property
    def sequence(self) -> int:
        return self.id

    def __str__(self) -> str:
        return f"#{self.id} at {self.issued_at:%Y-%m-%d %H:%M:%S}"
