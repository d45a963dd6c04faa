"""Audit events: what the gateway did or refused, by whom, when.

Rows are only ever inserted (gateway.audit.services.record_event is the single writer); the
tamper-evident Merkle log of a later issue builds on this same table.
"""

from __future__ import annotations

from django.db import models


class Action(models.TextChoices):
    ONBOARD = "ONBOARD"
    SUSPEND = "SUSPEND"
    REACTIVATE = "REACTIVATE"
    REMOVE = "REMOVE"
    GRANT_ROLE = "GRANT_ROLE"
    REVOKE_ROLE = "REVOKE_ROLE"
    UPLOAD = "UPLOAD"
    REVOKE = "REVOKE"
    AUTHENTICATE = "AUTHENTICATE"
    REQUEST = "REQUEST"
    PUBLISH = "PUBLISH"
    PUBLISHER_KEY = "PUBLISHER_KEY"


class Outcome(models.TextChoices):
    SUCCESS = "SUCCESS"
    REJECTED = "REJECTED"
    UNCHANGED = "UNCHANGED"


class AuditEvent(models.Model):
    at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=32, choices=Action.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.CharField(max_length=64, blank=True, default="")
    country = models.CharField(max_length=2, blank=True, default="", db_index=True)
    actor = models.CharField(max_length=255, blank=True, default="", help_text="user name or command that acted")
    authentication_thumbprint = models.CharField(max_length=64, blank=True, default="")
    uploader_thumbprint = models.CharField(max_length=64, blank=True, default="")
    subject_thumbprint = models.CharField(max_length=64, blank=True, default="", db_index=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("id",)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action} {self.outcome} {self.country} {self.reason}".strip()
