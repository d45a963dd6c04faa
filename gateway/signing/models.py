"""Publisher keys: the keys that sign everything published for verifiers, and the audit log's
checkpoints."""

from __future__ import annotations

import datetime as dt

from django.db import models


class PublisherKeyState(models.TextChoices):
    PENDING = "PENDING", "CSR issued, waiting for the trust anchor's certificate"
    NEXT = "NEXT", "certified, announced as the next key"
    CURRENT = "CURRENT", "signs publications"
    RETIRED = "RETIRED", "no longer used"


class PublisherKeyQuerySet(models.QuerySet["PublisherKey"]):
    def current(self) -> PublisherKeyQuerySet:
        """The key that signs (one at a time: a rotation retires the previous one)."""
        return self.filter(state=PublisherKeyState.CURRENT)

    def upcoming(self) -> PublisherKeyQuerySet:
        """The certified key announced as the next, waiting for a rotation to make it CURRENT."""
        return self.filter(state=PublisherKeyState.NEXT)

    def announced(self) -> PublisherKeyQuerySet:
        """The keys an index announces as usable: the current and the next, oldest first (the
        index's bytes must not depend on where PostgreSQL put an updated row)."""
        return self.filter(state__in=[PublisherKeyState.CURRENT, PublisherKeyState.NEXT]).order_by("id")

    def retired_since(self, at: dt.datetime) -> PublisherKeyQuerySet:
        """Keys retired at ``at`` or later, oldest first."""
        return self.filter(state=PublisherKeyState.RETIRED, state_changed_at__gte=at).order_by("id")


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

    objects = PublisherKeyQuerySet.as_manager()

    class Meta:
        # The table is named after the trust-list app: an upgrade from a release where this
        # model was the trust list's keeps its rows in place (see this app's 0001 migration).
        db_table = "trustlist_publisherkey"

    def __str__(self) -> str:
        return f"{self.label} ({self.state})"
