"""Trusted issuers (DGCG's and TNG's ``trusted_issuer``): issuers of credentials verified by a URL
or a DID rather than by a DSC, each vouched for by the trust anchor's signature (``issuers.signatures``)."""

from __future__ import annotations

import uuid

from django.db import models

# Bounds of TNG's trusted_issuer columns, where it has them (name 512, url 1024, thumbprint 64,
# ssl_public_key 2048, key_storage_type 128, domain 32); the signature is bounded by what a trust
# anchor's CMS takes (its certificate and one SignerInfo), with room for an RSA-4096 anchor.
NAME_MAX = 512
URL_MAX = 1024
SSL_PUBLIC_KEY_MAX = 2048
KEY_STORAGE_TYPE_MAX = 128
DOMAIN_MAX = 32
SIGNATURE_MAX = 8192


class IssuerType(models.TextChoices):
    HTTP = "HTTP", "HTTP: keys at an https:// URL"
    DID = "DID", "DID: keys in a DID document"


class IssuerStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "active"
    SUSPENDED = "SUSPENDED", "suspended (not served nor published)"


class SignedForm(models.TextChoices):
    DGCG = "dgcg", "DGCG: country;name;url;urlType;"
    TNG = "tng", "TNG: country;name;url;urlType"


class TrustedIssuerQuerySet(models.QuerySet["TrustedIssuer"]):
    def active(self) -> TrustedIssuerQuerySet:
        return self.filter(status=IssuerStatus.ACTIVE)

    def local(self) -> TrustedIssuerQuerySet:
        return self.filter(source_gateway="")


class TrustedIssuer(models.Model):
    """One trusted issuer, as an operator added it with the trust anchor's signature over
    ``country;name;url;urlType[;]`` (``signed_form`` says which). A row whose signature does not
    verify now is never served nor published, and the signature audit reports it."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    country = models.CharField(max_length=2, db_index=True)
    name = models.CharField(max_length=NAME_MAX)
    url = models.CharField(max_length=URL_MAX, help_text="https:// URL (HTTP) or DID (DID)")
    url_type = models.CharField("type", max_length=8, choices=IssuerType.choices)
    thumbprint = models.CharField(
        max_length=64, blank=True, default="", help_text="SHA-256 (hex) of the TLS certificate of an HTTP issuer"
    )
    ssl_public_key = models.TextField(blank=True, default="", help_text="its TLS public key (base64 or PEM)")
    key_storage_type = models.CharField(max_length=KEY_STORAGE_TYPE_MAX, blank=True, default="", help_text="e.g. JWKS")
    domain = models.CharField(max_length=DOMAIN_MAX, default="DCC")
    signature = models.TextField(help_text="base64 detached CMS by the trust anchor over the signed string")
    signed_form = models.CharField(
        max_length=4, choices=SignedForm.choices, help_text="which string the signature is over"
    )
    created_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=IssuerStatus.choices, default=IssuerStatus.ACTIVE)
    status_reason = models.CharField(max_length=255, blank=True, default="")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    # A peer gateway's id for an issuer imported from it (TNG's source_gateway); empty: added here.
    source_gateway = models.CharField(max_length=64, blank=True, default="", db_index=True)

    objects = TrustedIssuerQuerySet.as_manager()

    class Meta:
        ordering = ("country", "name", "url")
        constraints = [
            models.UniqueConstraint(
                fields=["country", "url", "url_type", "source_gateway"], name="issuers_one_per_country_url"
            )
        ]

    def __str__(self) -> str:
        return f"{self.country} {self.name} ({self.url_type} {self.url})"
