"""Admin for DSCs: country admins upload (a CMS their UPLOAD key signed; the key never leaves
the country) and revoke their countries' DSCs; other countries' DSCs do not exist for them."""

from __future__ import annotations

import binascii
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone

from countries.admin import CountryScopedAdmin
from countries.identity import ClientIdentity
from countries.permissions import Do, can, countries_for, is_operator
from gateway.pki import cms
from gateway.pki.errors import Rejected
from trustlist import services
from trustlist.models import Publication, SignerCertificate


class UploadForm(forms.Form):
    country = forms.ChoiceField()
    cms = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="base64 CMS from `manage.py sign_upload` (run where the UPLOAD key is kept)",
    )
    cms_file = forms.FileField(required=False, help_text="or the same as a file")

    def __init__(self, *args: Any, countries: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = [(c, c) for c in countries]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("cms_file")
        text = upload.read(70_000).decode("ascii", "replace") if upload else data.get("cms", "")
        if not text.strip():
            raise forms.ValidationError("paste the CMS or choose a file")
        try:
            data["cms_der"] = cms.decode_base64_body("".join(text.split()))  # tolerate line breaks here
        except (Rejected, binascii.Error) as exc:
            raise forms.ValidationError(f"not a base64 CMS: {exc}") from exc
        return data


class RevokeForm(forms.Form):
    reason = forms.CharField(max_length=255, help_text="recorded with the revocation and published")
    confirm = forms.BooleanField(label="I understand that verifiers will reject codes signed with this DSC")


@admin.register(SignerCertificate)
class SignerCertificateAdmin(CountryScopedAdmin):
    list_display = ("country", "kid", "group", "status", "not_before", "not_after", "created_at", "publication")
    list_filter = ("country", "group", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("kid", "thumbprint")
    fields = (
        "country",
        "kid",
        "thumbprint",
        "group",
        "domain",
        "status",
        "not_before",
        "not_after",
        "usages",
        "uploader_thumbprint",
        "issuer_thumbprint",
        "created_at",
        "revoked_at",
        "revocation_reason",
        "publication",
    )
    readonly_fields = fields
    change_form_template = "admin/trustlist/signercertificate/change_form.html"

    @admin.display(description="status")
    def status(self, row: SignerCertificate) -> str:
        return "revoked" if row.revoked_at else "trusted"

    @admin.display(description="publication")
    def publication(self, row: SignerCertificate) -> str:
        latest = Publication.objects.filter(index_sha256__gt="").order_by("-id").first()
        changed = row.revoked_at or row.created_at
        if latest is None or latest.issued_at < changed:
            return "pending"
        return f"published in sequence {latest.id}"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return can(request.user, Do.UPLOAD_DSC)

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="trustlist_signercertificate_upload"),
            path("<path:object_id>/revoke/", wrap(self.revoke_view), name="trustlist_signercertificate_revoke"),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:trustlist_signercertificate_upload"))

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        countries = countries_for(request.user, Do.UPLOAD_DSC)
        if countries is None or not countries:  # operators onboard; uploading is the country's job
            raise Http404
        form = UploadForm(request.POST or None, request.FILES or None, countries=countries)
        if request.method == "POST" and form.is_valid():
            country = form.cleaned_data["country"]
            if not can(request.user, Do.UPLOAD_DSC, country):
                raise Http404
            identity = ClientIdentity(country=country, thumbprint="", party_id=0)
            try:
                row = services.upload_signer_certificate(
                    identity=identity,
                    cms_der=form.cleaned_data["cms_der"],
                    at=timezone.now(),
                    actor=f"admin:{request.user}",
                )
            except Rejected as exc:
                form.add_error(None, f"Refused ({exc.reason}): {exc.detail}")
            else:
                self.message_user(request, f"Uploaded DSC {row.kid}", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:trustlist_signercertificate_change", args=[row.pk]))
        return self.render_form(request, title="Upload a DSC", form=form, submit="Upload")

    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        row = self.scoped_object(request, object_id)
        if not can(request.user, Do.REVOKE_DSC, row.country):
            raise Http404
        form = RevokeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            services.revoke_by_person(
                row_id=row.pk, reason=form.cleaned_data["reason"], actor=f"admin:{request.user}", at=timezone.now()
            )
            self.message_user(request, f"Revoked DSC {row.kid}", messages.SUCCESS)
            return HttpResponseRedirect(reverse("admin:trustlist_signercertificate_change", args=[row.pk]))
        return self.render_form(
            request,
            form=form,
            title=f"Revoke DSC {row.kid} of {row.country}",
            submit="Revoke",
            confirm=f"Revoke DSC {row.kid} ({row.thumbprint})? This cannot be undone.",
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        row = self.scoped_object(request, object_id)
        extra = {"can_revoke": row.revoked_at is None and can(request.user, Do.REVOKE_DSC, row.country)}
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})


class OperatorsOnly(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Publication)
class PublicationAdmin(OperatorsOnly):
    list_display = ("id", "issued_at", "expires_at", "trusted_count", "revoked_count", "publisher_kid")
