"""Read-only admin for auditors: events, checkpoints, audit runs and findings, with filters and
CSV/JSON export. Nobody can add, change or delete here, superusers included."""

from __future__ import annotations

import base64
import json
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from gateway.audit import words
from gateway.audit.models import AuditEvent, Checkpoint, Finding, SignatureAuditRun
from gateway.csv_export import write_csv
from gateway.pki import leaf

EXPORT_FIELDS = leaf.FIELDS


def _row(event: AuditEvent) -> dict[str, Any]:
    row = {name: getattr(event, name) for name in EXPORT_FIELDS}
    row["at"] = event.at.isoformat()
    row["leaf_hash"] = base64.b64encode(bytes(event.leaf_hash)).decode("ascii")
    return row


@admin.action(description="Export selected events as CSV")
def export_csv(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> HttpResponse:
    # Recorded texts come from clients (a certificate's subject, a path, a username): the cells
    # that a spreadsheet would evaluate are neutralised (gateway.csv_export).
    response = HttpResponse(content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
    rows = (_csv_row(event) for event in queryset.order_by("leaf_index").iterator())
    write_csv(response, [*EXPORT_FIELDS, "leaf_hash"], rows)
    return response


def _csv_row(event: AuditEvent) -> dict[str, Any]:
    row = _row(event)
    row["details"] = json.dumps(row["details"], sort_keys=True)
    return row


@admin.action(description="Export selected events as JSON")
def export_json(modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> HttpResponse:
    rows = [_row(event) for event in queryset.order_by("leaf_index").iterator()]
    response = HttpResponse(json.dumps(rows, indent=1), content_type="application/json")
    response["Content-Disposition"] = 'attachment; filename="audit-events.json"'
    return response


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("leaf_index", "at", "what", "country", "reason", "actor", "subject_short")
    list_filter = ("action", "outcome", "country", ("at", admin.DateFieldListFilter))
    search_fields = ("subject_thumbprint", "uploader_thumbprint", "authentication_thumbprint", "actor", "reason")
    date_hierarchy = "at"
    actions = (export_csv, export_json)
    exclude = ("leaf_bytes",)
    readonly_fields = ("leaf_hash_b64",)
    list_per_page = 100
    ordering = ("-leaf_index",)  # newest first: people come here for what just happened (exports stay in log order)
    show_full_result_count = False  # counting millions of rows on every page is slow

    @admin.display(description="event", ordering="action")
    def what(self, event: AuditEvent) -> str:
        """In words, with the codes the filters and exports use beneath."""
        return format_html(
            "{}<br><small>{} {}</small>", words.event_in_words(event.action, event.outcome), event.action, event.outcome
        )

    @admin.display(description="subject")
    def subject_short(self, event: AuditEvent) -> str:
        """A certificate by its thumbprint; a rule, which has none, by its identifier and versions;
        a value-set import by its source."""
        details = event.details if isinstance(event.details, dict) else {}
        if event.subject_thumbprint or not details:
            return event.subject_thumbprint[:16]
        if "identifier" in details:
            versions = details.get("versions") or [details.get("version", "")]
            return f"{details['identifier']} {', '.join(str(version) for version in versions)}".strip()
        return str(details.get("source", ""))[:60]

    @admin.display(description="leaf hash")
    def leaf_hash_b64(self, event: AuditEvent) -> str:
        return base64.b64encode(bytes(event.leaf_hash)).decode("ascii")


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ("tree_size", "issued_at", "origin")
    date_hierarchy = "issued_at"
    exclude = ("root_hash",)


@admin.register(SignatureAuditRun)
class SignatureAuditRunAdmin(ReadOnlyAdmin):
    list_display = ("id", "started_at", "finished_at", "findings", "new_findings")
    date_hierarchy = "started_at"


@admin.register(Finding)
class FindingAdmin(ReadOnlyAdmin):
    list_display = ("severity", "kind", "country", "subject", "first_seen", "last_seen", "resolved_at")
    list_filter = ("severity", "kind", "country", ("resolved_at", admin.EmptyFieldListFilter))
    search_fields = ("subject", "message")
