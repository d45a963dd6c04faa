"""The change outbox: one row per state change, written in the change's own transaction.

Its highest id is the *trust state version*: rendered trust lists are cached under it, and
the publisher (publication/) drains unpublished rows. Both apps that change trust state
(countries, trustlist) write here, so it lives beside them rather than inside either.
"""

from __future__ import annotations

from django.db import models


class Change(models.Model):
    at = models.DateTimeField()
    kind = models.CharField(max_length=32)
    country = models.CharField(max_length=2, blank=True, default="")
    # Indexed: the admin looks up the change that uploaded a certificate, to name its first sequence.
    thumbprint = models.CharField(max_length=64, blank=True, default="", db_index=True)
    # What inside the content the change touched, when its content is published in groups
    # (publication.providers.PartitionedContent: a revocation batch's country and kid), so the
    # publisher rebuilds those groups only; empty means all of them.
    scope = models.CharField(max_length=64, blank=True, default="")
    published_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"#{self.pk} {self.kind} {self.country} {self.thumbprint[:16]}"


class TrustState(models.Model):
    """A single row whose ``version`` every trust-state change increments in its transaction.

    Unlike MAX(outbox id), this cannot miss a change that commits after a higher id did:
    the row lock orders the increments in commit order.
    """

    version = models.BigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True, blank=True)
