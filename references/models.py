"""Trusted references (TNG's trusted_reference): a country's pointer to one of its services, with
the CMS its UPLOAD key signed, which every download carries (TNG keeps no CMS)."""

from __future__ import annotations

from django.db import models

from references.checks import DEFAULT_DOMAIN, ReferenceType, SignatureType


class TrustedReferenceQuerySet(models.QuerySet["TrustedReference"]):
    def matching(
        self,
        *,
        countries: list[str],
        domains: list[str],
        reference_types: list[str],
        signature_types: list[str],
    ) -> TrustedReferenceQuerySet:
        """TNG's ``/trustList/references`` filters, each one only when given: a reference matches
        when its value is one of those given (an unknown value matches nothing; TNG drops unknown
        types and, when none is left, filters by none), every filter by its own column (TNG's
        controller passes domain and country to the service swapped)."""
        rows = self
        for column, values in (
            ("country", countries),
            ("domain", domains),
            ("reference_type", reference_types),
            ("signature_type", signature_types),
        ):
            if values:
                rows = rows.filter(**{f"{column}__in": values})
        return rows.order_by("pk")


class TrustedReference(models.Model):
    """One reference: TNG's fields, the uploader's base64 CMS as uploaded (the latest, for an
    updated one) and who signed it. ``version`` counts the uploads of this uuid (TNG's
    FederatedEntity keeps 1)."""

    uuid = models.CharField("UUID", max_length=36, unique=True, help_text="lower-case UUID")
    country = models.CharField(max_length=2, db_index=True)
    domain = models.CharField(max_length=32, default=DEFAULT_DOMAIN)
    version = models.PositiveIntegerField(default=1)
    reference_type = models.CharField("type", max_length=4, choices=ReferenceType.choices)
    url = models.CharField("URL", max_length=100)
    service = models.CharField(max_length=1024)
    thumbprint = models.CharField(max_length=64)
    name = models.CharField(max_length=512)
    ssl_public_key = models.TextField("SSL public key")
    content_type = models.CharField(max_length=512)
    signature_type = models.CharField(max_length=4, choices=SignatureType.choices)
    reference_version = models.CharField(max_length=64, blank=True)
    cms = models.TextField(
        "CMS (base64)", help_text="the attached CMS its country's UPLOAD key signed, as uploaded and served"
    )
    uploader_thumbprint = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    objects = TrustedReferenceQuerySet.as_manager()

    class Meta:
        ordering = ("pk",)

    def __str__(self) -> str:
        return f"{self.country} {self.name[:60]} ({self.uuid})"
