"""The published sequences."""

from __future__ import annotations

import datetime as dt

from django.db import connections, models


class PublicationQuerySet(models.QuerySet["Publication"]):
    """The publisher's questions about published sequences. A row is reserved (its sequence taken)
    before its files are written and completed with its index's hash: ``published()`` are the
    completed ones, whose indexes have been or are about to be renamed into place."""

    def published(self) -> PublicationQuerySet:
        return self.filter(index_sha256__gt="")

    def newest(self) -> Publication | None:
        return self.order_by("-id").first()

    def newest_sequence(self) -> int | None:
        return self.order_by("-id").values_list("id", flat=True).first()

    def after(self, sequence: int) -> PublicationQuerySet:
        return self.filter(id__gt=sequence)

    def before(self, sequence: int) -> PublicationQuerySet:
        return self.filter(id__lt=sequence)

    def up_to(self, sequence: int) -> PublicationQuerySet:
        return self.filter(id__lte=sequence)

    def from_sequence(self, sequence: int) -> PublicationQuerySet:
        return self.filter(id__gte=sequence)

    def issued_since(self, at: dt.datetime) -> PublicationQuerySet:
        return self.filter(issued_at__gte=at)

    def changed_after(self, high_water: int) -> PublicationQuerySet:
        """Sequences whose delta holds outbox changes after ``high_water`` (marks never decrease
        as sequences increase)."""
        return self.filter(change_high_water__gt=high_water)

    def high_water_of(self, sequence: int) -> int | None:
        return self.filter(id=sequence).values_list("change_high_water", flat=True).first()

    def first_issued_at(self) -> dt.datetime | None:
        return self.order_by("id").values_list("issued_at", flat=True).first()

    def deltas(self) -> list[tuple[int, str, bool]]:
        """(sequence, delta SHA-256, plain JSON) oldest first; an empty SHA-256 is a reset (no delta)."""
        return list(self.order_by("id").values_list("id", "delta_sha256", "delta_plain"))

    def links_back(self, *, besides: int, count: int) -> list[tuple[int | None, str, int | None]]:
        """The newest ``count`` sequences other than ``besides``, newest first, as what walking a
        chain of deltas back through each needs: (previous, delta SHA-256, chain start)."""
        rows = self.exclude(id=besides).order_by("-id").values_list("previous", "delta_sha256", "chain_start")
        return list(rows[:count])

    def named_full_sequences(self, count: int) -> list[int]:
        """The last ``count`` distinct full-list sequences that indexes named, newest first."""
        rows = self.exclude(full_sequence__isnull=True).order_by("-full_sequence")
        return list(rows.values_list("full_sequence", flat=True).distinct()[:count])

    def index_names(self) -> list[tuple[int, int | None, int | None]]:
        """What each index names besides its own delta: (sequence, full sequence, chain start)."""
        return list(self.values_list("id", "full_sequence", "chain_start"))

    def named_artifact_paths(self) -> set[str]:
        """The files of the named artifacts these sequences' indexes name."""
        return {
            entry["descriptor"]["path"]
            for artifacts in self.values_list("artifacts", flat=True)
            for entry in (artifacts or {}).values()
        }

    def span_ends(self) -> PublicationQuerySet:
        """Full-list sequences recorded as the end of a chain of spans (of zero spans, for a start)."""
        return self.filter(span_start__isnull=False)

    def span_starts(self) -> list[int]:
        return list(self.values_list("span_start", flat=True))

    def span_links(self) -> dict[int, int | None]:
        """Each span end's sequence, and the sequence its span starts from (None: no span ends there)."""
        return dict(self.values_list("id", "span_previous"))

    def reserve(self, *, at: dt.datetime, previous: int | None, high_water: int) -> Publication:
        """Take the next sequence: a row with nothing published yet, completed once its index is made."""
        return self.create(
            issued_at=at,
            expires_at=at,
            previous=previous,
            change_high_water=high_water,
            trust_list_sha256="",
            trust_list_length=0,
            revocation_list_sha256="",
            revocation_list_length=0,
            delta_sha256="",
            delta_length=0,
            index_sha256="",
            publisher_kid="",
            trusted_count=0,
            revoked_count=0,
        )


class PublicationManager(models.Manager.from_queryset(PublicationQuerySet)):
    """The PostgreSQL statements publishers serialise and read by. On SQLite they do nothing:
    its transactions are serialisable, and the publish folder's lock serialises the processes of
    the one machine that holds the database file."""

    def _on_postgresql(self) -> bool:
        return connections[self.db].vendor == "postgresql"

    def read_only_snapshot(self) -> None:
        """Make the transaction just begun read one snapshot throughout: PostgreSQL's default
        READ COMMITTED gives each statement its own. Call it first thing in ``atomic()``."""
        if self._on_postgresql():
            with connections[self.db].cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")

    def advisory_lock(self, key: int, *, wait: bool) -> bool:
        """Take the session-level advisory lock ``key``, waiting for it or not; whether it is held."""
        if not self._on_postgresql():
            return True
        with connections[self.db].cursor() as cursor:
            if wait:
                cursor.execute("SELECT pg_advisory_lock(%s)", [key])
                return True
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            return bool(cursor.fetchone()[0])

    def advisory_unlock(self, key: int) -> None:
        if self._on_postgresql():
            with connections[self.db].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


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
    # Named artifacts (publication.providers.NamedContent) the index names: by name, the
    # "descriptor" the index carries and the SHA-256 of the canonical JSON of the value it holds
    # ("digest": a value read again but unchanged is not written again).
    artifacts = models.JSONField(default=dict, blank=True, help_text="named artifacts the index names, by name")
    index_sha256 = models.CharField(max_length=64)
    publisher_kid = models.CharField(max_length=64)
    trusted_count = models.IntegerField()
    revoked_count = models.IntegerField()

    objects = PublicationManager()

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
