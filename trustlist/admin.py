"""Admin for DSCs: country admins upload (a CMS their UPLOAD key signed; the key never leaves
the country) and revoke their countries' DSCs; other countries' DSCs do not exist for them."""

from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from countries.admin_base import CountryScopedAdmin, when
from countries.admin_forms import SignedUploadForm
from countries.permissions import Do, can
from gateway.audit import words
from gateway.pki import certs
from trustlist import display, services
from trustlist.models import SignerCertificate


class UploadForm(SignedUploadForm):
    signed = "The DSC"
    make_it = "manage.py sign_upload --dsc dsc.pem --signer upload.pem --key upload.key"
    example_file = "dsc.cms"


class RevokeForm(forms.Form):
    reason = forms.CharField(
        max_length=255, help_text="Why it is revoked: recorded in the audit log with the revocation and published."
    )
    confirm = forms.BooleanField(label="I understand that verifiers will reject codes signed with this DSC")


# Parsing a DER takes tens of microseconds; a page shows each row's certificate in several columns.
_summary = functools.lru_cache(maxsize=1024)(certs.summary)


def summary_of(row: SignerCertificate) -> certs.Summary:
    return _summary(bytes(row.raw_data))  # PostgreSQL hands out a memoryview, which is not hashable


class StatusFilter(admin.SimpleListFilter):
    """Trusted or revoked, in those words (Django's filter on revoked_at says "Empty"/"Not empty")."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("trusted", "trusted"), ("revoked", "revoked")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "trusted":
            return queryset.trusted()
        if self.value() == "revoked":
            return queryset.revoked()
        return queryset


class FindingsFilter(admin.SimpleListFilter):
    """The DSCs a relaxed policy check let through (docs/policy.md), for their reviewers."""

    title = "policy findings"
    parameter_name = "findings"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("some", "accepted with findings"), ("none", "no findings")]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        if self.value() == "some":
            return queryset.exclude(policy_findings=[])
        if self.value() == "none":
            return queryset.filter(policy_findings=[])
        return queryset


CERTIFICATE_FIELDS = (
    "country",
    "type",
    "subject",
    "issuer",
    "serial",
    "validity",
    "usages_words",
    "kid",
    "thumbprint",
    "policy_findings_words",
)
PROVENANCE_FIELDS = (
    "uploaded",
    "published",
    "revoked",
    "revocation_reason",
    "revocation_published",
    "domain",
    "uploader_thumbprint",
    "issuer_thumbprint",
)


@admin.register(SignerCertificate)
class SignerCertificateAdmin(CountryScopedAdmin):
    list_display = (
        "country",
        "kid",
        "subject",
        "serial",
        "issuer",
        "type",
        "validity",
        "usages_words",
        "uploaded",
        "revoked",
        "published",
    )
    list_display_links = ("kid",)
    list_filter = ("country", "group", StatusFilter, FindingsFilter)
    search_fields = ("kid", "thumbprint")
    fieldsets = (
        ("Certificate", {"fields": CERTIFICATE_FIELDS}),
        ("Provenance", {"fields": PROVENANCE_FIELDS}),
    )
    readonly_fields = CERTIFICATE_FIELDS + PROVENANCE_FIELDS
    change_form_template = "admin/trustlist/signercertificate/change_form.html"
    change_list_template = "admin/trustlist/signercertificate/change_list.html"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).with_provenance()

    @admin.display(description="subject")
    def subject(self, row: SignerCertificate) -> str:
        name = summary_of(row).subject
        rest = ", ".join(part for part in (name.organization, name.country) if part)
        return format_html('<span class="cn">{}</span><br><small>{}</small>', name.common_name, rest)

    @admin.display(description="issuer")
    def issuer(self, row: SignerCertificate) -> str:
        return str(summary_of(row).issuer)

    @admin.display(description="serial")
    def serial(self, row: SignerCertificate) -> str:
        return format_html('<code class="serial">{}</code>', summary_of(row).serial)

    @admin.display(description="type", ordering="group")
    def type(self, row: SignerCertificate) -> str:
        return row.get_group_display()

    @admin.display(description="valid", ordering="not_after")
    def validity(self, row: SignerCertificate) -> str:
        now = timezone.now()
        soon = row.revoked_at is None and display.expiring_soon(row.not_after, now)
        return format_html(
            '<span class="date">{}</span> to <span class="date">{}</span><br><span class="days-left{}">{}</span>',
            row.not_before.date(),
            row.not_after.date(),
            " expiring-soon" if soon else "",
            display.validity_note(row.not_after, now),
        )

    @admin.display(description="policy findings")
    def policy_findings_words(self, row: SignerCertificate) -> str:
        """What relaxed checks let through, by reason and detail; "none" when the strict policy
        accepted it."""
        return display.findings_text(row.policy_findings)

    @admin.display(description="may sign")
    def usages_words(self, row: SignerCertificate) -> str:
        return display.usages_in_words(row.usages)

    @admin.display(description="uploaded", ordering="created_at")
    def uploaded(self, row: SignerCertificate) -> str:
        by = words.actor_in_words(getattr(row, "uploaded_by", None))
        return format_html('<span class="date">{}</span><br><small>by {}</small>', when(row.created_at), by)

    @admin.display(description="status", ordering="revoked_at")
    def revoked(self, row: SignerCertificate) -> str:
        if row.revoked_at is None:
            return mark_safe('<span class="trusted">trusted</span>')
        by = words.actor_in_words(getattr(row, "revoked_by", None))
        return format_html(
            '<span class="revoked">revoked</span> <span class="date">{}</span><br><small>by {}</small>',
            when(row.revoked_at),
            by,
        )

    @admin.display(description="first published", ordering="first_published")
    def published(self, row: SignerCertificate) -> str:
        sequence = getattr(row, "first_published", None)
        return f"sequence {sequence}" if sequence else "not yet"

    @admin.display(description="revocation published")
    def revocation_published(self, row: SignerCertificate) -> str:
        if row.revoked_at is None:
            return "not revoked"
        sequence = getattr(row, "revocation_published", None)
        return f"sequence {sequence}" if sequence else "not yet"

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
        return self.signed_upload_view(
            request,
            action=Do.UPLOAD_DSC,
            form_class=UploadForm,
            store=services.upload_signed_text,
            title="Upload a DSC",
            stored=lambda row: f"Uploaded DSC {row.kid}{display.findings_suffix(row.policy_findings)}",
        )

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
        name = summary_of(row).subject.common_name
        return self.render_form(
            request,
            form=form,
            title=f"Revoke DSC {row.kid} of {row.country}",
            submit="Revoke",
            confirm=f"Revoke the DSC “{name}” (kid {row.kid}, thumbprint {row.thumbprint})? This cannot be undone.",
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        row = self.scoped_object(request, object_id)
        extra = {
            "can_revoke": row.revoked_at is None and can(request.user, Do.REVOKE_DSC, row.country),
            "title": summary_of(row).subject.common_name or row.kid,
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def history_title(self, row: SignerCertificate) -> str:
        return f"History of DSC {summary_of(row).subject.common_name or row.kid}"
