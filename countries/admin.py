"""Admin for onboarded certificates (operators onboard; country admins see theirs) and memberships."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone

from countries import services
from countries.admin_base import CountryScopedAdmin, refusal_words
from countries.models import CertificateType, Membership, Status, TrustedParty
from countries.permissions import Do, can, is_operator
from gateway.pki.certs import certificate_der, load_pem_certificate, summary
from gateway.pki.errors import Rejected


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
                form.add_error(None, refusal_words(exc))
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
                self.message_user(request, refusal_words(exc), messages.ERROR)
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
