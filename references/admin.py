"""Admin for trusted references, read-only. A country's people (admins and viewers) see its
references, with the payload its UPLOAD key signed and the history of each from the audit log;
auditors and operators see every country's; other countries' references do not exist for the
rest. Nobody uploads, edits or deletes a reference here: a national backend does, over the API,
signed by its UPLOAD key."""

from __future__ import annotations

import base64
import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from countries.admin_base import CountryScopedAdmin, when
from countries.permissions import Do
from gateway.audit.models import Action, AuditEvent
from gateway.pki import cms
from gateway.pki.certs import name_parts, thumbprint
from gateway.pki.errors import Rejected
from gateway.pki.policy import CMS_FINDINGS_ONLY
from references.models import TrustedReference

REFERENCE_ACTIONS = [Action.REFERENCE_UPLOAD, Action.REFERENCE_UPDATE, Action.REFERENCE_DELETE]
FIELDS = (
    "uuid",
    "country",
    "name",
    "reference_type",
    "url",
    "service",
    "domain",
    "signature_type",
    "content_type",
    "thumbprint",
    "reference_version",
    "ssl_public_key",
    "version",
)
PROVENANCE = ("uploaded", "updated", "signed_by", "signed_payload", "cms")


@admin.register(TrustedReference)
class TrustedReferenceAdmin(CountryScopedAdmin):
    view_action = Do.VIEW_REFERENCES
    list_display = ("name", "country", "reference_type", "url_text", "domain", "signature_type", "version", "updated")
    list_filter = ("country", "reference_type", "signature_type", "domain")
    search_fields = ("uuid", "name", "url", "service", "thumbprint")
    fieldsets = (("Reference", {"fields": FIELDS}), ("Provenance", {"fields": PROVENANCE}))
    readonly_fields = FIELDS + PROVENANCE

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a national backend uploads references through the API, signed by its UPLOAD key

    @admin.display(description="URL", ordering="url")
    def url_text(self, row: TrustedReference) -> str:
        return format_html("<code>{}</code>", row.url)  # shown, never a link: it is the country's word

    @admin.display(description="uploaded (UTC)", ordering="created_at")
    def uploaded(self, row: TrustedReference) -> str:
        return format_html('<span class="date">{}</span>', when(row.created_at))

    @admin.display(description="last changed (UTC)", ordering="updated_at")
    def updated(self, row: TrustedReference) -> str:
        return format_html('<span class="date">{}</span>', when(row.updated_at))

    @admin.display(description="signed by")
    def signed_by(self, row: TrustedReference) -> str:
        message = _message(row)
        if message is None:
            return "(the stored CMS does not verify)"
        return f"{name_parts(message.signer.subject)} ({thumbprint(message.signer_der)})"

    @admin.display(description="signed payload (as uploaded)")
    def signed_payload(self, row: TrustedReference) -> str:
        message = _message(row)
        if message is None:
            return "(the stored CMS does not verify)"
        try:
            text = json.dumps(json.loads(message.payload), indent=2, ensure_ascii=False)
        except ValueError:
            text = message.payload.decode("utf-8", "replace")
        return format_html("<pre>{}</pre>", text)

    def history_events(self, obj: TrustedReference) -> Any:
        return AuditEvent.objects.filter(action__in=REFERENCE_ACTIONS, country=obj.country, details__uuid=obj.uuid)

    def history_about(self, obj: TrustedReference) -> str:
        return format_html("every upload, update and refusal of reference <code>{}</code>", obj.uuid)

    def history_title(self, obj: TrustedReference) -> str:
        return f"History of reference {obj.uuid}"


def _message(row: TrustedReference) -> cms.SignedMessage | None:
    try:
        return cms.parse_attached(base64.b64decode(row.cms), CMS_FINDINGS_ONLY)
    except (Rejected, ValueError):
        return None
