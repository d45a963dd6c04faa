"""Revocation batches (DGCG's revocation_batch) and their hashes, kept apart for bulk reads."""

from __future__ import annotations

import datetime as dt

from django.db import models

from revocation.batches import HashType


class BatchState(models.TextChoices):
    ACTIVE = "active", "active"
    EXPIRED = "expired", "expired"  # past its expiry, not yet marked deleted by the cleanup
    DELETED = "deleted", "deleted"  # soft-deleted: listed as deleted until the cleanup purges it


class RevocationBatchQuerySet(models.QuerySet["RevocationBatch"]):
    def of_country(self, country: str) -> RevocationBatchQuerySet:
        return self.filter(country=country)

    def changed_after(self, since: dt.datetime) -> RevocationBatchQuerySet:
        """DGCG's list: ``changed > since`` (TNG's ``>=`` repeats the last row of each page to a
        client that pages by its date), oldest change first, the id breaking ties."""
        return self.filter(changed__gt=since).order_by("changed", "pk")


class RevocationBatch(models.Model):
    """One uploaded batch: the fields the list, the admin and the cleanup select by, and the
    base64 CMS as uploaded (DGCG's signed_batch), which ``GET /revocation-list/{batchId}``
    answers. A deletion empties ``cms``, sets ``deleted`` and moves ``changed`` (DGCG)."""

    batch_id = models.CharField(max_length=36, unique=True, help_text="lower-case UUID (the ETag)")
    country = models.CharField(max_length=2, db_index=True)
    kid = models.CharField(max_length=12, help_text="the DSC's kid, or UNKNOWN_KID")
    hash_type = models.CharField(max_length=16, choices=HashType.choices)
    expires = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField()
    changed = models.DateTimeField(db_index=True)
    deleted = models.BooleanField(default=False)
    cms = models.TextField(blank=True, default="", help_text="base64 of the uploaded CMS; empty once deleted")
    entry_count = models.PositiveIntegerField()
    uploader_thumbprint = models.CharField(max_length=64)

    objects = RevocationBatchQuerySet.as_manager()

    class Meta:
        ordering = ("changed", "pk")
        verbose_name_plural = "revocation batches"
        indexes = [models.Index(fields=["deleted", "changed"]), models.Index(fields=["deleted", "expires"])]

    def __str__(self) -> str:
        return f"{self.country} {self.batch_id}"

    def state(self, at: dt.datetime) -> BatchState:
        if self.deleted:
            return BatchState.DELETED
        return BatchState.EXPIRED if self.expires <= at else BatchState.ACTIVE


class RevocationHash(models.Model):
    """One entry of an active batch: the 16 raw bytes with the batch's kid and hash type copied
    beside them, so a distribution builder reads every hash of a kid and type in one indexed scan
    without joining the batches. Removed with the batch's deletion (its CMS goes too)."""

    batch = models.ForeignKey(RevocationBatch, on_delete=models.CASCADE, related_name="hashes")
    kid = models.CharField(max_length=12)
    hash_type = models.CharField(max_length=16, choices=HashType.choices)
    hash = models.BinaryField(max_length=16)

    class Meta:
        indexes = [models.Index(fields=["kid", "hash_type"])]

    def __str__(self) -> str:
        return f"{self.kid} {self.hash_type} {bytes(self.hash).hex()}"
