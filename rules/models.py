"""Business rules (DGCG's validation rules) and the value sets they refer to."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.db import models
from django.db.models import Case, Exists, OuterRef, Subquery, Value, When
from django.db.models.fields.json import KT

from gateway.audit.models import Action, AuditEvent, Outcome


class RuleType(models.TextChoices):
    ACCEPTANCE = "Acceptance", "Acceptance"
    INVALIDATION = "Invalidation", "Invalidation"


class CertificateType(models.TextChoices):
    GENERAL = "General", "General"
    TEST = "Test", "Test"
    VACCINATION = "Vaccination", "Vaccination"
    RECOVERY = "Recovery", "Recovery"


class RuleState(models.TextChoices):
    """Where a version stands at a moment, as verifiers receive it (``GET /rules/{country}``: the
    newest version that has started, and those still to come)."""

    UPCOMING = "upcoming", "upcoming"  # starts later
    CURRENT = "current", "current"  # the version valid now
    SUPERSEDED = "superseded", "superseded"  # its window is open, but a later version has started
    EXPIRED = "expired", "expired"  # its window has closed


class ValidationRuleQuerySet(models.QuerySet["ValidationRule"]):
    def of_country(self, country: str) -> ValidationRuleQuerySet:
        return self.filter(country=country)

    def versions_of(self, identifier: str) -> ValidationRuleQuerySet:
        return self.filter(identifier=identifier)

    def with_state(self, at: dt.datetime) -> ValidationRuleQuerySet:
        """Annotate ``state`` (a RuleState) at ``at``, in the same query (the list filters by it).
        Versions only go up, each upload above the last stored (DGCG check 6), so a later row of
        an identifier is a later version."""
        later_started = ValidationRule.objects.filter(
            identifier=OuterRef("identifier"), pk__gt=OuterRef("pk"), valid_from__lte=at
        )
        return self.annotate(
            state=Case(
                When(valid_from__gt=at, then=Value(RuleState.UPCOMING.value)),
                When(valid_to__lte=at, then=Value(RuleState.EXPIRED.value)),
                When(Exists(later_started), then=Value(RuleState.SUPERSEDED.value)),
                default=Value(RuleState.CURRENT.value),
                output_field=models.CharField(),
            )
        )

    def with_uploader(self) -> ValidationRuleQuerySet:
        """Annotate ``uploaded_by``: the actor of the audit event that stored the version (the
        latest such event: an identifier deleted and uploaded again starts over), None without one.
        KT: the keys' text, which compares with the row's columns (a JSON value would not)."""
        uploads = (
            AuditEvent.objects.filter(action=Action.RULE_UPLOAD, outcome=Outcome.SUCCESS, country=OuterRef("country"))
            .annotate(rule=KT("details__identifier"), rule_version=KT("details__version"))
            .filter(rule=OuterRef("identifier"), rule_version=OuterRef("version"))
        )
        return self.annotate(uploaded_by=Subquery(uploads.order_by("-leaf_index").values("actor")[:1]))


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

    def content(self) -> dict[str, Any]:
        """The rule JSON as uploaded (an object of the EU rule format: the upload checked it)."""
        return json.loads(bytes(self.raw))  # bytes(): PostgreSQL hands out a memoryview


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
