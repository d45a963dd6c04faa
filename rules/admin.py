"""Admin for business rules and value sets. Country admins upload rules (the rule JSON in a CMS their
UPLOAD key signed offline, as for DSCs) and delete them; their country's people read them, with
every version's window on a timeline; other countries' rules do not exist for them. Everyone with
a role reads the value sets, operators import them; nobody edits either by hand."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from countries.admin_base import CountryScopedAdmin, GatewayModelAdmin, refusal_words, when
from countries.admin_forms import SignedUploadForm
from countries.identity import ClientIdentity
from countries.permissions import Do, can
from countries.uploaders import decode_signed_text
from gateway.audit import words
from gateway.audit.models import Action, AuditEvent, Outcome
from gateway.pki.errors import Rejected
from rules import display, services
from rules.models import RuleState, ValidationRule, ValueSet
from rules.valuesets import MAX_BYTES
from verifier.semver import semver_key


class RuleUploadForm(SignedUploadForm):
    signed = "The rule JSON"
    make_it = (
        "openssl cms -sign -binary -nodetach -outform DER -in rule.json -signer upload.pem -inkey upload.key "
        "| base64 -w0"
    )
    example_file = "rule.cms"


def upload_rule_text(*, identity: ClientIdentity, text: str, at: dt.datetime, actor: str) -> ValidationRule:
    """A rule a person pasted or chose as a file: decoded and checked as the API does, each refusal
    recorded by the path that refuses it."""
    cms_der = decode_signed_text(text, identity=identity, at=at, action=Action.RULE_UPLOAD, actor=actor)
    return services.upload_rule(identity=identity, cms_der=cms_der, at=at, actor=actor)


class DeleteRuleForm(forms.Form):
    confirm = forms.BooleanField(label="I understand that verifiers will no longer receive any version of this rule")


class StateFilter(admin.SimpleListFilter):
    title = "state now"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return list(RuleState.choices)

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(state=self.value()) if self.value() else queryset


RULE_FIELDS = ("country", "identifier", "version", "rule_type", "certificate_type", "validity", "state_now", "engine")
TEXT_FIELDS = ("descriptions", "affected_fields", "logic")
PROVENANCE_FIELDS = ("uploaded", "uploader_thumbprint")


@admin.register(ValidationRule)
class ValidationRuleAdmin(CountryScopedAdmin):
    view_action = Do.VIEW_RULES
    list_display = (
        "identifier",
        "version",
        "country",
        "rule_type",
        "certificate_type",
        "valid_from_when",
        "valid_to_when",
        "state_now",
    )
    list_display_links = ("identifier",)
    list_filter = ("country", "rule_type", "certificate_type", StateFilter)
    search_fields = ("identifier",)
    fieldsets = (
        ("Rule", {"fields": RULE_FIELDS}),
        ("What it checks", {"fields": TEXT_FIELDS}),
        ("Provenance", {"fields": PROVENANCE_FIELDS}),
    )
    readonly_fields = RULE_FIELDS + TEXT_FIELDS + PROVENANCE_FIELDS
    change_form_template = "admin/rules/validationrule/change_form.html"
    change_list_template = "admin/rules/validationrule/change_list.html"

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).with_state(timezone.now())

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        # One version's page names its uploader from the audit log; the list does not pay for it.
        row = super().get_object(request, object_id, from_field)
        if row is not None:
            uploader = ValidationRule.objects.filter(pk=row.pk).with_uploader().values_list("uploaded_by", flat=True)
            row.uploaded_by = uploader.first()
        return row

    @admin.display(description="state now", ordering="state")
    def state_now(self, row: ValidationRule) -> str:
        return display.state_badge(row.state)

    @admin.display(description="valid from (UTC)", ordering="valid_from")
    def valid_from_when(self, row: ValidationRule) -> str:
        return format_html('<span class="date">{}</span>', when(row.valid_from))

    @admin.display(description="valid to (UTC)", ordering="valid_to")
    def valid_to_when(self, row: ValidationRule) -> str:
        return format_html('<span class="date">{}</span>', when(row.valid_to))

    @admin.display(description="valid")
    def validity(self, row: ValidationRule) -> str:
        return format_html(
            '<span class="date">{}</span> to <span class="date">{}</span> (UTC)',
            when(row.valid_from),
            when(row.valid_to),
        )

    @admin.display(description="engine")
    def engine(self, row: ValidationRule) -> str:
        rule = row.content()
        return f"{rule['Engine']} {rule['EngineVersion']}, rule schema {rule['SchemaVersion']}"

    @admin.display(description="description")
    def descriptions(self, row: ValidationRule) -> str:
        return display.descriptions(row.content())

    @admin.display(description="fields it reads")
    def affected_fields(self, row: ValidationRule) -> str:
        return ", ".join(row.content()["AffectedFields"])

    @admin.display(description="logic (CertLogic)")
    def logic(self, row: ValidationRule) -> str:
        return display.logic(row.content())

    @admin.display(description="uploaded")
    def uploaded(self, row: ValidationRule) -> str:
        by = words.actor_in_words(getattr(row, "uploaded_by", None))
        return format_html('<span class="date">{}</span> by {}', when(row.created_at), by)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return can(request.user, Do.UPLOAD_RULE)

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path("upload/", wrap(self.upload_view), name="rules_validationrule_upload"),
            path("<path:object_id>/delete-rule/", wrap(self.delete_rule_view), name="rules_validationrule_delete_rule"),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:rules_validationrule_upload"))

    def upload_view(self, request: HttpRequest) -> HttpResponse:
        return self.signed_upload_view(
            request,
            action=Do.UPLOAD_RULE,
            form_class=RuleUploadForm,
            store=upload_rule_text,
            title="Upload a rule",
            stored=lambda row: f"Uploaded rule {row.identifier} version {row.version}",
        )

    def delete_rule_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        row = self.scoped_object(request, object_id)
        if not can(request.user, Do.DELETE_RULE, row.country):
            raise Http404
        stored = ValidationRule.objects.versions_of(row.identifier).of_country(row.country)
        versions = sorted(stored.values_list("version", flat=True), key=semver_key)
        form = DeleteRuleForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            at, actor = timezone.now(), f"admin:{request.user}"
            try:
                count = services.delete_by_person(row.identifier, country=row.country, at=at, actor=actor)
            except Rejected as exc:  # another person deleted it meanwhile (the service recorded it)
                form.add_error(None, refusal_words(exc))
            else:
                self.message_user(request, f"Deleted rule {row.identifier} ({count} versions)", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:rules_validationrule_changelist"))
        return self.render_form(
            request,
            form=form,
            title=f"Delete rule {row.identifier} of {row.country}",
            submit="Delete every version",
            confirm=f"Delete every version of rule {row.identifier} "
            f"({', '.join(versions)})? Verifiers stop receiving it with the "
            "next publication. This cannot be undone; the audit log keeps the record.",
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        row = self.scoped_object(request, object_id)
        versions = ValidationRule.objects.versions_of(row.identifier).of_country(row.country)
        now = timezone.now()
        extra = {
            "timeline": display.timeline(list(versions.with_state(now).with_uploader()), now, this=row.pk),
            "can_delete_rule": can(request.user, Do.DELETE_RULE, row.country),
            "title": f"Rule {row.identifier}, version {row.version}",
        }
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), **extra})

    def history_events(self, obj: ValidationRule) -> Any:
        """The rule's uploads, re-signings and deletions (a refused upload names no rule: it is in the
        audit log)."""
        actions = [Action.RULE_UPLOAD, Action.CMS_MIGRATION, Action.RULE_DELETE]
        events = AuditEvent.objects.filter(action__in=actions, country=obj.country)
        return events.filter(details__identifier=obj.identifier)

    def history_about(self, obj: ValidationRule) -> str:
        return format_html("every upload, re-signing and deletion of rule <code>{}</code>", obj.identifier)

    def history_title(self, obj: ValidationRule) -> str:
        return f"History of rule {obj.identifier}"


class ValueSetImportForm(forms.Form):
    file = forms.FileField(label="Value sets file")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit = settings.GATEWAY_MAX_BODY_BYTES // 1024
        self.fields["file"].help_text = (
            "The EU's valueSets.json ({id: [codes]}) or DGCG's array of value sets. It replaces every value set, "
            f"or nothing changes. At most {limit} KiB through this page; a larger file: manage.py import_valuesets."
        )


@admin.register(ValueSet)
class ValueSetAdmin(GatewayModelAdmin):
    list_display = ("value_set_id", "value_set_date", "code_count", "imported_when", "source")
    search_fields = ("value_set_id",)
    fields = ("value_set_id", "value_set_date", "code_count", "imported", "source", "document_indented")
    readonly_fields = fields
    change_form_template = "admin/rules/valueset/change_form.html"
    change_list_template = "admin/rules/valueset/change_list.html"

    @admin.display(description="codes")
    def code_count(self, row: ValueSet) -> int:
        return len(row.codes)

    @admin.display(description="imported (UTC)", ordering="imported_at")
    def imported_when(self, row: ValueSet) -> str:
        return when(row.imported_at)

    @admin.display(description="imported")
    def imported(self, row: ValueSet) -> str:
        # Each import that changes anything rewrites every set with its time, and records one event.
        event = AuditEvent.objects.filter(action=Action.VALUESET_IMPORT, outcome=Outcome.SUCCESS, at=row.imported_at)
        actor = event.order_by("-leaf_index").values_list("actor", flat=True).first()
        return f"{when(row.imported_at)} by {words.actor_in_words(actor)}"

    @admin.display(description="document (as GET /valuesets/{id} serves it)")
    def document_indented(self, row: ValueSet) -> str:
        return format_html('<pre class="document">{}</pre>', json.dumps(json.loads(row.document), indent=2))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can(request.user, Do.VIEW_VALUESETS)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return can(request.user, Do.VIEW_VALUESETS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # an import replaces them all (import_view); no set is made by hand

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [path("import/", wrap(self.import_view), name="rules_valueset_import"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        extra = {"can_import": can(request.user, Do.IMPORT_VALUESETS)}
        return super().changelist_view(request, {**(extra_context or {}), **extra})

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not can(request.user, Do.IMPORT_VALUESETS):
            raise Http404
        form = ValueSetImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                count = services.import_value_sets(
                    upload.read(MAX_BYTES + 1),  # one byte over: the service names the size
                    source=f"admin upload: {upload.name}",
                    at=timezone.now(),
                    actor=f"admin:{request.user}",
                )
            except Rejected as exc:  # recorded by the service; nothing changed
                form.add_error(None, refusal_words(exc))
            else:
                self.message_user(request, f"{count} value sets imported from {upload.name}", messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:rules_valueset_changelist"))
        return self.render_form(request, title="Import value sets", form=form, submit="Import")

    def history_events(self, obj: ValueSet) -> Any:
        return AuditEvent.objects.filter(action=Action.VALUESET_IMPORT)

    def history_about(self, obj: ValueSet) -> str:
        return "every import of the value sets and every refused one (an import replaces them all)"

    def history_title(self, obj: ValueSet) -> str:
        return f"History of the value sets ({obj.value_set_id})"
