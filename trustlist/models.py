"""Signer certificates (DSCs and TNG trusted certificates) uploaded by countries."""

from __future__ import annotations

import uuid

from django.db import models


class Group(models.TextChoices):
    """TNG signer-information groups. Unlike TNG we keep SIGN/AUTH/CUSTOM as sent."""

    DSC = "DSC"
    SIGN = "SIGN"
    AUTH = "AUTH"
    CUSTOM = "CUSTOM"
    DESC = "DESC"


class SignerCertificateQuerySet(models.QuerySet["SignerCertificate"]):
    def trusted(self) -> SignerCertificateQuerySet:
        return self.filter(revoked_at__isnull=True)

    def revoked(self) -> SignerCertificateQuerySet:
        return self.filter(revoked_at__isnull=False)

    def for_country(self, country: str) -> SignerCertificateQuerySet:
        return self.filter(country=country)

    def local(self) -> SignerCertificateQuerySet:
        return self.filter(source_gateway="")


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
