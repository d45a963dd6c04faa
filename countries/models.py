"""Onboarded trusted parties: a country's AUTHENTICATION, UPLOAD and CSCA certificates.

A row is only data: it becomes trusted when its trust-anchor signature verifies at the
moment of use (countries.trust_anchor.verified), never because it is in the table.
"""

from __future__ import annotations

import uuid

from django.db import models


class CertificateType(models.TextChoices):
    """Labelled with their names (DGCG's, which people use), not Django's title case ("Csca")."""

    AUTHENTICATION = "AUTHENTICATION", "AUTHENTICATION"
    UPLOAD = "UPLOAD", "UPLOAD"
    CSCA = "CSCA", "CSCA"
    # TNG: issuer of DESC signer certificates, as CSCA is of DSCs.
    DECA = "DECA", "DECA"


class Status(models.TextChoices):
    ACTIVE = "ACTIVE"
    SUSPENDED = "SUSPENDED"
    REMOVED = "REMOVED"


class Role(models.TextChoices):
    """DGCG's trusted_party_roles values (only revocation endpoints declare roles)."""

    REVOCATION_LIST_READER = "REVOCATION_LIST_READER"
    REVOCATION_UPLOADER = "REVOCATION_UPLOADER"
    REVOCATION_DELETER = "REVOCATION_DELETER"


class TrustedPartyQuerySet(models.QuerySet["TrustedParty"]):
    def active(self) -> TrustedPartyQuerySet:
        return self.filter(status=Status.ACTIVE)

    def for_country(self, country: str) -> TrustedPartyQuerySet:
        return self.filter(country=country)

    def of_type(self, certificate_type: str) -> TrustedPartyQuerySet:
        return self.filter(certificate_type=certificate_type)

    def local(self) -> TrustedPartyQuerySet:
        return self.filter(source_gateway="")


class TrustedParty(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    country = models.CharField(max_length=2, db_index=True)
    certificate_type = models.CharField(max_length=16, choices=CertificateType.choices)
    thumbprint = models.CharField(max_length=64, unique=True)
    raw_data = models.BinaryField(help_text="certificate DER")
    signature = models.TextField(help_text="base64 detached CMS by the trust anchor over raw_data")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=255, blank=True, default="")
    status_changed_at = models.DateTimeField(null=True, blank=True)
    domain = models.CharField(max_length=32, default="DCC")
    # For federation: the peer gateway this entry is imported from; "" means local.
    source_gateway = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()

    objects = TrustedPartyQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "trusted parties"
        indexes = [models.Index(fields=["country", "certificate_type", "status"])]

    def __str__(self) -> str:
        return f"{self.country} {self.certificate_type} {self.thumbprint[:16]} ({self.status})"


class TrustedPartyRole(models.Model):
    trusted_party = models.ForeignKey(TrustedParty, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=32, choices=Role.choices)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["trusted_party", "role"], name="unique_party_role")]

    def __str__(self) -> str:
        return f"{self.trusted_party} {self.role}"


class MembershipRole(models.TextChoices):
    ADMIN = "ADMIN", "country admin: uploads and revokes the country's DSCs"
    VIEWER = "VIEWER", "sees the country's keys"


class Membership(models.Model):
    """Ties a person to a country with a role (healthchecks' Member, per country)."""

    user = models.ForeignKey("auth.User", on_delete=models.CASCADE, related_name="memberships")
    country = models.CharField(max_length=2)
    role = models.CharField(max_length=8, choices=MembershipRole.choices, default=MembershipRole.ADMIN)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "country"], name="one_membership_per_country")]

    def __str__(self) -> str:
        return f"{self.user} {self.role} of {self.country}"
