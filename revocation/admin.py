"""Admin for revocation batches. A country's people see its batches (entries, expiry, kid, hash
type, state); its admins delete one (soft, through the service, audited, after confirming);
auditors and operators see every country's; other countries' batches do not exist for the rest.
Nobody uploads or edits a batch here: batches are a national backend's machine work."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Case, Q, Value, When
from django.db.models import CharField as CharFieldType
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from countries.admin_base import CountryScopedAdmin, refusal_words, when
from countries.permissions import Do, can
from gateway.audit.models import Action, AuditEvent
from gateway.pki.errors import Rejected
from revocation import services
from revocation.models import BatchState, RevocationBatch

BATCH_ACTIONS = [
    Action.REVOCATION_BATCH_UPLOAD,
    Action.REVOCATION_BATCH_DELETE,
    Action.REVOCATION_BATCH_EXPIRED,
    Action.CMS_MIGRATION,  # re-signed with a renewed UPLOAD key
]


class DeleteBatchForm(forms.Form):
    confirm = forms.BooleanField(label="I understand that this batch's revocations will no longer be distributed")


class StateFilter(admin.SimpleListFilter):
    title = "state now"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(BatchState.choices)

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(state_now=self.value()) if self.value() else queryset


FIELDS = ("batch_id", "country", "kid", "hash_type", "entry_count", "expires_when", "state", "changed_when")
PROVENANCE = ("uploaded", "uploader_thumbprint")


@admin.register(RevocationBatch)
class RevocationBatchAdmin(CountryScopedAdmin):
    view_action = Do.VIEW_REVOCATION
    list_display = ("batch_id", "country", "entry_count", "expires_when", "kid", "hash_type", "state")
    list_filter = ("country", "hash_type", StateFilter)
    search_fields = ("batch_id", "kid")
    fieldsets = (("Batch", {"fields": FIELDS}), ("Provenance", {"fields": PROVENANCE}))
    readonly_fields = FIELDS + PROVENANCE
    change_form_template = "admin/revocation/revocationbatch/change_form.html"

    def get_queryset(self, request: HttpRequest) -> Any:
        # The state as a column, so the list filters and sorts by it (BatchState's rule, in SQL).
        now = timezone.now()
        return (
            super()
            .get_queryset(request)
            .annotate(
                state_now=Case(
                    When(deleted=True, then=Value(BatchState.DELETED.value)),
                    When(Q(expires__lte=now), then=Value(BatchState.EXPIRED.value)),
                    default=Value(BatchState.ACTIVE.value),
                    output_field=CharFieldType(),
                )
            )
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a national backend uploads batches through the API, signed by its UPLOAD key

    @admin.display(description="state now", ordering="state_now")
    def state(self, row: RevocationBatch) -> str:
        return row.state(timezone.now())

    @admin.display(description="expires (UTC)", ordering="expires")
    def expires_when(self, row: RevocationBatch) -> str:
        return format_html('<span class="date">{}</span>', when(row.expires))

    @admin.display(description="last changed (UTC)", ordering="changed")
    def changed_when(self, row: RevocationBatch) -> str:
        return format_html('<span class="date">{}</span>', when(row.changed))

    @admin.display(description="uploaded (UTC)")
    def uploaded(self, row: RevocationBatch) -> str:
        return format_html('<span class="date">{}</span>', when(row.created_at))

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/delete-batch/",
                wrap(self.delete_batch_view),
                name="revocation_revocationbatch_delete_batch",
            ),
            *super().get_urls(),
        ]

    def delete_batch_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        row = self.scoped_object(request, object_id)
        if not can(request.user, Do.DELETE_REVOCATION, row.country) or row.deleted:
            raise Http404
        form = DeleteBatchForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            at, actor = timezone.now(), f"admin:{request.user}"
            try:
                services.delete_by_person(row.batch_id, country=row.country, at=at, actor=actor)
            except Rejected as exc:  # deleted meanwhile, by the backend or the cleanup (recorded)
                form.add_error(None, refusal_words(exc))
            else:
                self.message_user(request, f"Deleted revocation batch {row.batch_id}", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:revocation_revocationbatch_changelist"))
        return self.render_form(
            request,
            form=form,
            title=f"Delete revocation batch {row.batch_id} of {row.country}",
            submit="Delete the batch",
            confirm=f"Delete batch {row.batch_id} ({row.entry_count} entries)? It stays listed as deleted "
            "for readers until the cleanup removes it; this cannot be undone, and the audit log keeps the record.",
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        row = self.scoped_object(request, object_id)
        extra = {
            "can_delete_batch": can(request.user, Do.DELETE_REVOCATION, row.country) and not row.deleted,
            "title": f"Revocation batch {row.batch_id}",
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def history_events(self, obj: RevocationBatch) -> Any:
        return AuditEvent.objects.filter(action__in=BATCH_ACTIONS, country=obj.country, details__batchId=obj.batch_id)

    def history_about(self, obj: RevocationBatch) -> str:
        return format_html("every upload, re-signing, deletion and expiry of batch <code>{}</code>", obj.batch_id)

    def history_title(self, obj: RevocationBatch) -> str:
        return f"History of batch {obj.batch_id}"
