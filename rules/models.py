"""Business rules (DGCG's validation rules) and the value sets they refer to."""

from __future__ import annotations

from django.db import models


class RuleType(models.TextChoices):
    ACCEPTANCE = "Acceptance", "Acceptance"
    INVALIDATION = "Invalidation", "Invalidation"


class CertificateType(models.TextChoices):
    GENERAL = "General", "General"
    TEST = "Test", "Test"
    VACCINATION = "Vaccination", "Vaccination"
    RECOVERY = "Recovery", "Recovery"


class ValidationRuleQuerySet(models.QuerySet["ValidationRule"]):
    def of_country(self, country: str) -> ValidationRuleQuerySet:
        return self.filter(country=country)

    def versions_of(self, identifier: str) -> ValidationRuleQuerySet:
        return self.filter(identifier=identifier)


class ValidationRule(models.Model):
    """One version of a rule, as a country uploaded it: the rule JSON's bytes exactly as signed
    (``raw``), the CMS that carried them, and the fields the API and the admin sort and select by."""

    country = models.CharField(max_length=2, db_index=True)
    identifier = models.CharField(max_length=16, db_index=True, help_text="e.g. VR-XA-0001")
    version = models.CharField(max_length=32, help_text="semantic version")
    rule_type = models.CharField(max_length=16, choices=RuleType.choices)
    certificate_type = models.CharField(max_length=16, choices=CertificateType.choices)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField()
    raw = models.BinaryField(help_text="the rule JSON as uploaded (what the CMS signs)")
    cms = models.TextField(help_text="base64 of the uploaded attached CMS (DGCG's GET /rules answers it)")
    signature = models.TextField(help_text="base64 detached CMS by the uploader over raw")
    uploader_thumbprint = models.CharField(max_length=64)
    created_at = models.DateTimeField()

    objects = ValidationRuleQuerySet.as_manager()

    class Meta:
        ordering = ("country", "identifier", "valid_from")
        constraints = [models.UniqueConstraint(fields=["identifier", "version"], name="rules_one_version")]

    def __str__(self) -> str:
        return f"{self.identifier} {self.version}"


class ValueSet(models.Model):
    """One value set (e.g. vaccines-covid-19-names), replaced as a whole by each import."""

    value_set_id = models.CharField(max_length=64, unique=True)
    value_set_date = models.CharField(max_length=32, help_text="the set's own date, as the source gives it")
    document = models.TextField(help_text="the set as GET /valuesets/{id} serves it (DGCG's ValueSet JSON)")
    codes = models.JSONField(default=list, help_text="its codes, as rules see them (external.valueSets)")
    source = models.CharField(max_length=500, help_text="file or URL of the import that wrote it")
    imported_at = models.DateTimeField()

    class Meta:
        ordering = ("value_set_id",)

    def __str__(self) -> str:
        return self.value_set_id
