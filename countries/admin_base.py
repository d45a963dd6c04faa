"""What the gateway's admin pages share: a missing object (or one that is not the person's to see)
is 404, the one form page, histories read from the audit log, lists scoped to the countries a
person acts for, and the upload of what a country signed offline (a DSC, a rule)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from countries.admin_forms import SignedUploadForm
from countries.identity import ClientIdentity
from countries.permissions import Do, can, countries_for
from gateway.audit import words
from gateway.audit.models import AuditEvent, Outcome
from gateway.pki.errors import Rejected

# A service that takes what a person pasted for a country and stores it, or raises Rejected
# (having recorded the refusal): trustlist.services.upload_signed_text, the rules admin's upload.
SignedTextStore = Callable[..., Model]


class StaffAdmin(admin.ModelAdmin):
    """Pages of the gateway's own staff rather than a country's: ``can_read`` decides who sees
    them, ``can_write`` who may add, change and delete (through services); by default nobody."""

    def can_read(self, user: Any) -> bool:
        return False

    def can_write(self, user: Any) -> bool:
        return False

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.can_read(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.can_read(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.can_write(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.can_write(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.can_write(request.user)


class GatewayModelAdmin(admin.ModelAdmin):
    """Read-only pages whose changes are actions of services (each one audited)."""

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # what was signed or imported is read-only once stored; state changes are actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> HttpResponse:
        raise Http404("no such object")

    def render_form(self, request: HttpRequest, **context: Any) -> TemplateResponse:
        """The admin's one form page (uploads, imports, onboarding, revocation, deletion and status
        confirmations)."""
        context = {**self.admin_site.each_context(request), "opts": self.opts, **context}
        return TemplateResponse(request, "admin/gateway_form.html", context)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        """An object's history is the audit log's events of it (``history_events``), newest
        first: every change goes through a service that records one, none writes Django's
        LogEntry table."""
        obj = self.scoped_object(request, object_id)
        events = self.history_events(obj).order_by("-leaf_index")
        entries = [
            {
                "event": event,
                "what": words.event_in_words(event.action, event.outcome),
                "who": words.actor_in_words(event.actor),
                "refused": event.outcome == Outcome.REJECTED,
                "detail": event.details.get("detail", "") if isinstance(event.details, dict) else "",
            }
            for event in events
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": self.history_title(obj),
            "object": obj,
            "opts": self.opts,
            "entries": entries,
            "history_about": self.history_about(obj),
            "audit_links": request.user.has_perm("audit.view_auditevent"),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/gateway_history.html", context)

    def history_title(self, obj: Any) -> str:
        return f"History of {obj}"

    def history_events(self, obj: Any) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.none()

    def history_about(self, obj: Any) -> str:
        """What the history page lists, in a phrase ("every change of ...")."""
        return f"every change of {obj}"

    def scoped_object(self, request: HttpRequest, object_id: str) -> Any:
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404("no such object")
        return obj


class CountryScopedAdmin(GatewayModelAdmin):
    """Rows of other countries do not exist for a country admin: lists omit them, URLs answer 404.
    ``view_action`` is what seeing a row takes (keys by default; rules are another action)."""

    view_action = Do.VIEW_KEYS

    def get_queryset(self, request: HttpRequest) -> Any:
        queryset = super().get_queryset(request)
        countries = countries_for(request.user, self.view_action)
        return queryset if countries is None else queryset.filter(country__in=countries)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can(request.user, self.view_action)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, self.view_action, obj.country if obj is not None else None)

    def history_events(self, obj: Any) -> QuerySet[AuditEvent]:
        """A certificate's: the events of its thumbprint (uploads, revocations, onboarding, status
        changes and their refusals)."""
        return AuditEvent.objects.filter(subject_thumbprint=obj.thumbprint)

    def history_about(self, obj: Any) -> str:
        return format_html(
            "every change and refusal of the certificate with thumbprint <code>{}</code>", obj.thumbprint
        )

    def signed_upload_view(
        self,
        request: HttpRequest,
        *,
        action: Do,
        form_class: type[SignedUploadForm],
        store: SignedTextStore,
        title: str,
        stored: Callable[[Any], str],
    ) -> HttpResponse:
        """The upload page of what a country signs offline with its UPLOAD key: ``store`` checks
        it as the API does, with the country the person chose as the uploader; a refusal (which
        the service recorded) is shown once, by its reason; a success leads to the stored row."""
        countries = countries_for(request.user, action)
        if not countries:  # None would be "every country": operators onboard, uploading is the country's job
            raise Http404
        form = form_class(request.POST or None, request.FILES or None, countries=countries)
        if request.method == "POST" and form.is_valid():
            country = form.cleaned_data["country"]
            if not can(request.user, action, country):
                raise Http404
            try:
                row = store(
                    identity=ClientIdentity(country=country, thumbprint="", party_id=0),
                    text=form.cleaned_data["cms_text"],
                    at=timezone.now(),
                    actor=f"admin:{request.user}",
                )
            except Rejected as exc:
                form.add_error(None, refusal_words(exc))
            else:
                self.message_user(request, stored(row), messages.SUCCESS)
                opts = self.opts
                return HttpResponseRedirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[row.pk]))
        return self.render_form(request, title=title, form=form, submit="Upload")


def refusal_words(exc: Rejected) -> str:
    """A refusal as a form shows it: its named reason first (what the audit log records)."""
    return f"Refused ({exc.reason}): {exc.detail}"


def when(at: dt.datetime | None) -> str:
    """A moment as the admin's pages write it (the server's time zone, UTC)."""
    return timezone.localtime(at).strftime("%Y-%m-%d %H:%M") if at else ""
