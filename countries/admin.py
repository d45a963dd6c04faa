"""Admin for onboarded certificates (operators onboard; country admins see theirs) and memberships."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from countries import services
from countries.models import CertificateType, Membership, Status, TrustedParty
from countries.permissions import Do, can, countries_for, is_operator
from gateway.audit import words
from gateway.audit.models import AuditEvent, Outcome
from gateway.pki.certs import certificate_der, load_pem_certificate, summary
from gateway.pki.errors import Rejected


class CountryScopedAdmin(admin.ModelAdmin):
    """Rows of other countries do not exist for a country admin: lists omit them, URLs answer 404."""

    def get_queryset(self, request: HttpRequest) -> Any:
        queryset = super().get_queryset(request)
        countries = countries_for(request.user, Do.VIEW_KEYS)
        return queryset if countries is None else queryset.filter(country__in=countries)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can(request.user, Do.VIEW_KEYS)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, Do.VIEW_KEYS, obj.country if obj is not None else None)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # certificate material is read-only once created; state changes are actions

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def _get_obj_does_not_exist_redirect(self, request: HttpRequest, opts: Any, object_id: str) -> HttpResponse:
        raise Http404("no such object")

    def render_form(self, request: HttpRequest, **context: Any) -> TemplateResponse:
        """The admin's one form page (uploads, onboarding, revocation and status confirmations)."""
        context = {**self.admin_site.each_context(request), "opts": self.opts, **context}
        return TemplateResponse(request, "admin/gateway_form.html", context)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None) -> Any:
        """A certificate's history is the audit log's events of its thumbprint (uploads,
        revocations, onboarding, status changes and their refusals), newest first: every change
        goes through a service that records one, none writes Django's LogEntry table."""
        obj = self.scoped_object(request, object_id)
        events = AuditEvent.objects.filter(subject_thumbprint=obj.thumbprint).order_by("-leaf_index")
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
            "audit_links": request.user.has_perm("audit.view_auditevent"),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/gateway_history.html", context)

    def history_title(self, obj: Any) -> str:
        return f"History of {obj}"

    def scoped_object(self, request: HttpRequest, object_id: str) -> Any:
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404("no such object")
        return obj


class OnboardForm(forms.Form):
    country = forms.CharField(max_length=2)
    certificate_type = forms.ChoiceField(choices=CertificateType.choices)
    certificate = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), help_text="PEM")
    signature = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="the trust anchor's base64 detached CMS (manage.py ta_sign, offline)",
    )


# The button that sets a status says what it does ("Suspend…"), not the state it leads to.
STATUS_VERBS = {Status.ACTIVE: "Reactivate", Status.SUSPENDED: "Suspend", Status.REMOVED: "Remove"}


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=255, required=False)


@admin.register(TrustedParty)
class TrustedPartyAdmin(CountryScopedAdmin):
    list_display = ("country", "certificate_type", "subject", "valid_until", "status", "thumbprint_short", "created_at")
    list_filter = ("certificate_type", "status", "country")
    search_fields = ("thumbprint",)
    fields = (
        "country",
        "certificate_type",
        "subject",
        "valid_until",
        "status",
        "status_reason",
        "status_changed_at",
        "thumbprint",
        "signature",
        "domain",
        "created_at",
    )
    readonly_fields = fields
    change_form_template = "admin/countries/trustedparty/change_form.html"

    @admin.display(description="subject")
    def subject(self, party: TrustedParty) -> str:
        return str(summary(bytes(party.raw_data)).subject)  # bytes(): PostgreSQL hands out a memoryview

    @admin.display(description="valid until")
    def valid_until(self, party: TrustedParty) -> str:
        return f"{summary(bytes(party.raw_data)).not_after:%Y-%m-%d}"

    @admin.display(description="thumbprint")
    def thumbprint_short(self, party: TrustedParty) -> str:
        return party.thumbprint[:16]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return can(request.user, Do.ONBOARD)

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("onboard/", wrap(self.onboard_view), name="countries_trustedparty_onboard"),
            path("<path:object_id>/status/<str:target>/", wrap(self.status_view), name="countries_trustedparty_status"),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:countries_trustedparty_onboard"))

    def onboard_view(self, request: HttpRequest) -> HttpResponse:
        if not can(request.user, Do.ONBOARD):
            raise Http404
        form = OnboardForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                der = certificate_der(load_pem_certificate(form.cleaned_data["certificate"].encode()))
                party = services.onboard(
                    country=form.cleaned_data["country"].upper(),
                    certificate_type=form.cleaned_data["certificate_type"],
                    der=der,
                    signature_b64=form.cleaned_data["signature"].strip(),
                    actor=f"admin:{request.user}",
                    at=timezone.now(),
                )
            except Rejected as exc:
                form.add_error(None, f"Refused ({exc.reason}): {exc.detail}")
            else:
                self.message_user(request, f"Onboarded {party}", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:countries_trustedparty_change", args=[party.pk]))
        return self.render_form(request, title="Onboard a certificate", form=form)

    def status_view(self, request: HttpRequest, object_id: str, target: str) -> HttpResponse:
        party = self.scoped_object(request, object_id)
        if not can(request.user, Do.CHANGE_ONBOARDING, party.country) or target not in Status.values:
            raise Http404
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.set_status(
                    party_id=party.pk,
                    status=Status(target),
                    reason=form.cleaned_data["reason"],
                    actor=f"admin:{request.user}",
                    at=timezone.now(),
                )
                self.message_user(request, f"{party.certificate_type} of {party.country} is now {target}")
            except Rejected as exc:
                self.message_user(request, f"Refused ({exc.reason}): {exc.detail}", messages.ERROR)
            return HttpResponseRedirect(reverse("admin:countries_trustedparty_change", args=[party.pk]))
        return self.render_form(
            request, form=form, title=f"{target.title()}: {party}", confirm=f"Set {party} to {target}?"
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        party = self.scoped_object(request, object_id)
        targets = [s for s in Status.values if s != party.status] if party.status != Status.REMOVED else []
        allowed = targets if can(request.user, Do.CHANGE_ONBOARDING, party.country) else []
        extra = {"status_targets": [(target, STATUS_VERBS[target]) for target in allowed]}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "country", "role")
    list_filter = ("role", "country")

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def save_model(self, request: HttpRequest, obj: Membership, form: Any, change: bool) -> None:
        services.save_membership(obj, actor=f"admin:{request.user}", at=timezone.now())

    def delete_model(self, request: HttpRequest, obj: Membership) -> None:
        services.delete_membership(obj, actor=f"admin:{request.user}", at=timezone.now())
