"""Celery tasks of the oversight room."""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone


# The task's name is part of the deployment: the beat schedule (gateway/settings.py) names it,
# and messages queued in Redis carry it across a rolling upgrade. The explicit name, in the audit
# app's namespace (gateway.audit.tasks.*), lets both find this function.
@shared_task(name="gateway.audit.tasks.run_signature_audit", acks_late=True, ignore_result=True)
def run_signature_audit() -> int:
    """Beat: re-verify everything stored and published; returns the number of open findings."""
    from oversight import signature_audit

    return signature_audit.run(at=timezone.now()).findings
