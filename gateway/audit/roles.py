"""The auditor role: a group that may view the audit models (and, by countries.permissions,
every country's keys), and change nothing."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group, Permission

AUDITORS = "Auditors"
AUDIT_MODELS = ("auditevent", "checkpoint", "signatureauditrun", "finding")


def ensure_auditor_group(**_: Any) -> Group:
    """post_migrate: create or complete the group (idempotent)."""
    group, _ = Group.objects.get_or_create(name=AUDITORS)
    permissions = Permission.objects.filter(
        content_type__app_label="audit", codename__in=[f"view_{model}" for model in AUDIT_MODELS]
    )
    group.permissions.add(*permissions)
    return group
