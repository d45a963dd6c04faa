"""Trusted issuers in the admin: operators add them (the trust anchor's signature pasted from the
offline ``ta_sign_issuer``), suspend, reactivate and remove them, each through
``issuers.services`` (audited; a refusal is shown by its named reason and stores nothing);
auditors read them. Nobody edits a stored issuer: its signed fields are what the trust anchor
signed, so a change is a removal and a new entry."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from countries.admin_base import GatewayModelAdmin, refusal_words
from countries.permissions import is_auditor, is_operator
from gateway.audit.models import AuditEvent
from gateway.pki.errors import Rejected
from gateway.signing.anchors import configured_trust_anchors
from issuers import services, signatures
from issuers.models import (
    DOMAIN_MAX,
    KEY_STORAGE_TYPE_MAX,
    NAME_MAX,
    SIGNATURE_MAX,
    SSL_PUBLIC_KEY_MAX,
    URL_MAX,
    IssuerStatus,
    IssuerType,
    TrustedIssuer,
)

# What each status button does, named by its verb; and which a status offers.
SUSPEND, REACTIVATE, REMOVE = "suspend", "reactivate", "remove"
VERBS = {SUSPEND: "Suspend", REACTIVATE: "Reactivate", REMOVE: "Remove"}
TARGETS = {IssuerStatus.ACTIVE: (SUSPEND, REMOVE), IssuerStatus.SUSPENDED: (REACTIVATE, REMOVE)}


class IssuerAddForm(forms.Form):
    """The signed fields are taken as typed (not stripped): the signature covers their exact bytes.
    The form's bounds are twice the service's, so that the service checks every field and a
    refusal is named and audited as any other (``issuers.fields``)."""

    country = forms.CharField(max_length=8, strip=False, help_text="ISO 3166-1 alpha-2 or a virtual country")
    name = forms.CharField(max_length=2 * NAME_MAX, strip=False)
    url = forms.CharField(
        label="URL", max_length=2 * URL_MAX, strip=False, help_text="an https:// URL (HTTP) or a DID (DID)"
    )
    url_type = forms.ChoiceField(label="type", choices=IssuerType.choices)
    signature = forms.CharField(
        max_length=2 * SIGNATURE_MAX,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="the trust anchor's base64 detached CMS over country;name;url;type; (DGCG) or "
        "country;name;url;type (TNG): manage.py ta_sign_issuer, offline",
    )
    domain = forms.CharField(max_length=2 * DOMAIN_MAX, initial="DCC")
    thumbprint = forms.CharField(max_length=128, required=False, help_text="SHA-256 (hex) of its TLS certificate")
    ssl_public_key = forms.CharField(
        label="TLS public key",
        max_length=2 * SSL_PUBLIC_KEY_MAX,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    key_storage_type = forms.CharField(max_length=2 * KEY_STORAGE_TYPE_MAX, required=False, help_text="e.g. JWKS")


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=255, required=False)


@admin.register(TrustedIssuer)
class TrustedIssuerAdmin(GatewayModelAdmin):
    list_display = ("country", "name", "url_type", "url", "domain", "status", "trust_anchor", "source", "created_at")
    list_filter = ("status", "url_type", "country", "domain")
    search_fields = ("name", "url", "uuid")
    fields = (
        "uuid",
        "country",
        "name",
        "url_type",
        "url",
        "domain",
        "thumbprint",
        "ssl_public_key",
        "key_storage_type",
        "status",
        "status_reason",
        "status_changed_at",
        "trust_anchor",
        "signed_form",
        "signed",
        "signature",
        "source",
        "created_at",
    )
    readonly_fields = fields
    change_form_template = "admin/issuers/trustedissuer/change_form.html"

    @admin.display(description="trust anchor")
    def trust_anchor(self, issuer: TrustedIssuer) -> str:
        """Checked now, as every use checks it: a row that fails is neither served nor published."""
        if issuer.source_gateway:
            return "on its peer's word"
        try:
            signatures.check(issuer, configured_trust_anchors())
        except Rejected as exc:
            return format_html('<span class="errornote">{}</span>', f"{exc.reason}: not served")
        return "verified"

    @admin.display(description="signed string")
    def signed(self, issuer: TrustedIssuer) -> str:
        return format_html("<code>{}</code>", signatures.signed_string_of(issuer).decode("utf-8"))

    @admin.display(description="source")
    def source(self, issuer: TrustedIssuer) -> str:
        return issuer.source_gateway or settings.GATEWAY_FEDERATION_ID

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user) or is_auditor(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user) or is_auditor(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/status/<str:target>/", wrap(self.status_view), name="issuers_trustedissuer_status"),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise Http404
        form = IssuerAddForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                issuer = services.add_issuer(
                    country=data["country"],
                    name=data["name"],
                    url=data["url"],
                    url_type=data["url_type"],
                    signature=data["signature"],
                    domain=data["domain"],
                    thumbprint=data["thumbprint"],
                    ssl_public_key=data["ssl_public_key"],
                    key_storage_type=data["key_storage_type"],
                    actor=f"admin:{request.user}",
                    at=timezone.now(),
                )
            except Rejected as exc:
                form.add_error(None, refusal_words(exc))
            else:
                self.message_user(request, f"Added {issuer}", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:issuers_trustedissuer_change", args=[issuer.pk]))
        return self.render_form(request, title="Add a trusted issuer", form=form, submit="Add")

    def status_view(self, request: HttpRequest, object_id: str, target: str) -> HttpResponse:
        issuer = self.scoped_object(request, object_id)
        if not is_operator(request.user) or target not in VERBS:
            raise Http404
        form = ReasonForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            actor, at, reason = f"admin:{request.user}", timezone.now(), form.cleaned_data["reason"]
            try:
                if target == REMOVE:
                    services.remove_issuer(issuer.pk, reason=reason, actor=actor, at=at)
                    self.message_user(request, f"Removed {issuer}")
                    return HttpResponseRedirect(reverse("admin:issuers_trustedissuer_changelist"))
                status = IssuerStatus.SUSPENDED if target == SUSPEND else IssuerStatus.ACTIVE
                services.set_status(issuer.pk, status, reason=reason, actor=actor, at=at)
                self.message_user(request, f"{issuer} is now {status.label}")
            except Rejected as exc:
                self.message_user(request, refusal_words(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:issuers_trustedissuer_change", args=[issuer.pk]))
        return self.render_form(
            request, form=form, title=f"{VERBS[target]}: {issuer}", confirm=f"{VERBS[target]} {issuer}?"
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        issuer = self.scoped_object(request, object_id)
        targets = TARGETS.get(IssuerStatus(issuer.status), ()) if not issuer.source_gateway else ()
        allowed = targets if is_operator(request.user) else ()
        extra = {"status_targets": [(target, VERBS[target]) for target in allowed]}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def history_events(self, obj: TrustedIssuer) -> QuerySet[AuditEvent]:
        return AuditEvent.objects.filter(details__uuid=str(obj.uuid))

    def history_about(self, obj: TrustedIssuer) -> str:
        return format_html("every change and refusal of the trusted issuer <code>{}</code>", obj.uuid)
