"""The admin's CMS migration, for country admins whose UPLOAD key is being renewed: each UPLOAD
certificate of their countries with what it signed that is still stored, and, for one of them,
its package to download (what ``GET /cms-migration`` lists, of this certificate only), re-sign
offline with the new UPLOAD key (``manage.py sign_migration``) and upload again, or one entity's
new CMS pasted. Both go through ``migration.services``, as the API does; a refusal is shown by
its named reason (and recorded there). ``gateway/admin_site.py`` puts these pages under the admin."""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from countries.identity import ClientIdentity
from countries.models import CertificateType, TrustedParty
from countries.permissions import Do, countries_for
from gateway.pki.errors import Rejected
from migration import services
from trustlist.display import EXPIRING_SOON_DAYS, days_left, validity_note

THUMBPRINT = re.compile(r"[0-9a-f]{64}")
SIGN_IT = (
    "manage.py sign_migration --package package.json --signer new-upload.pem --key new-upload.key --out resigned.json"
)


def urls(site: AdminSite) -> list[URLPattern]:
    def view(function: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        return site.admin_view(functools.partial(function, site))

    return [
        path("cms-migration/", view(index), name="cms_migration"),
        path("cms-migration/<str:thumbprint>/", view(signer), name="cms_migration_signer"),
        path("cms-migration/<str:thumbprint>/package.json", view(package), name="cms_migration_package"),
    ]


class PackageForm(forms.Form):
    package = forms.CharField(
        label="Re-signed package (pasted)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 8, "cols": 90}),
        help_text=f"This certificate's package, each cms replaced by one your new UPLOAD key signed: {SIGN_IT}",
    )
    package_file = forms.FileField(label="…or as a file", required=False, help_text="e.g. resigned.json")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("package_file")
        limit = settings.GATEWAY_MAX_BODY_BYTES
        text = upload.read(limit).decode("utf-8", "replace") if upload else data.get("package", "")
        if not text.strip():
            raise forms.ValidationError("Paste the re-signed package or choose its file.")
        data["text"] = text
        return data


class EntityForm(forms.Form):
    entity = forms.ChoiceField(label="What to re-sign")
    cms = forms.CharField(
        label="Its new CMS (pasted)",
        widget=forms.Textarea(attrs={"rows": 6, "cols": 90}),
        help_text="Base64 of an attached CMS over exactly what is stored, signed with your new UPLOAD key.",
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["entity"].choices = choices


def index(site: AdminSite, request: HttpRequest) -> HttpResponse:
    countries = _countries(request)
    now = timezone.now()
    certificates = [_described(item, now) for item in services.upload_certificates(countries)]
    context = {
        **site.each_context(request),
        "title": "Re-sign after an UPLOAD key is renewed (CMS migration)",
        "certificates": certificates,
        "countries": ", ".join(countries),
        "expiring_soon_days": EXPIRING_SOON_DAYS,
    }
    return TemplateResponse(request, "admin/migration/index.html", context)


def signer(site: AdminSite, request: HttpRequest, thumbprint: str) -> HttpResponse:
    party = _party(request, thumbprint)
    identity = ClientIdentity(country=party.country, thumbprint="", party_id=0)
    actor, at = f"admin:{request.user}", timezone.now()
    entities = list(services.packages(party.country, uploader=party.thumbprint))
    choices = [(f"{item.type}:{item.entity_id}", f"{item.type} {item.entity_id}: {item.label}") for item in entities]
    which = request.POST.get("form") if request.method == "POST" else None
    package_form = PackageForm(request.POST, request.FILES) if which == "package" else PackageForm()
    entity_form = EntityForm(request.POST, choices=choices) if which == "entity" else EntityForm(choices=choices)
    results: list[services.ItemResult] = []
    if which == "package" and package_form.is_valid():
        text = package_form.cleaned_data["text"]
        try:
            results = services.migrate_package(identity=identity, text=text, at=at, actor=actor)
        except Rejected as exc:
            package_form.add_error(None, _refusal_words(exc))
        else:
            done = sum(1 for result in results if result.refusal is None)
            level = messages.SUCCESS if done == len(results) else messages.WARNING
            messages.add_message(request, level, f"{done} of {len(results)} re-signed (or already so); see below.")
    if which == "entity" and entity_form.is_valid():
        kind, _, entity_id = entity_form.cleaned_data["entity"].partition(":")
        item = services.Request(entity_form.cleaned_data["cms"], int(entity_id), services.EntityType(kind))
        try:
            changed = services.migrate(identity=identity, request=item, at=at, actor=actor, wrapped=True)
        except Rejected as exc:
            entity_form.add_error(None, _refusal_words(exc))
        else:
            words = "Re-signed" if changed else "Already signed so (nothing changed):"
            messages.success(request, f"{words} {item.type} {item.entity_id}")
            return HttpResponseRedirect(reverse("admin:cms_migration_signer", args=[party.thumbprint]))
    of_country = services.upload_certificates([party.country], everything=True)
    described = _described(next(item for item in of_country if item.party.pk == party.pk), at)
    context = {
        **site.each_context(request),
        "title": f"Re-sign what {described['name']} signed",
        "certificate": described,
        "entities": entities,
        "others": [
            _described(item, at) for item in of_country if item.party.pk != party.pk and item.party.status == "ACTIVE"
        ],
        "package_form": package_form,
        "entity_form": entity_form,
        "results": results,
        "sign_it": SIGN_IT,
        "max_bytes": settings.GATEWAY_MAX_BODY_BYTES,
    }
    return TemplateResponse(request, "admin/migration/signer.html", context)


def package(site: AdminSite, request: HttpRequest, thumbprint: str) -> HttpResponse:
    party = _party(request, thumbprint)
    entities = [item.wire() for item in services.packages(party.country, uploader=party.thumbprint)]
    response = HttpResponse(json.dumps(entities, indent=1), content_type="application/json")
    name = f"cms-migration-{party.country}-{party.thumbprint[:16]}.json"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _countries(request: HttpRequest) -> list[str]:
    countries = countries_for(request.user, Do.RESIGN)
    if not countries:  # None would be every country: re-signing is a country's own job
        raise Http404("no such page")
    return countries


def _party(request: HttpRequest, thumbprint: str) -> TrustedParty:
    countries = _countries(request)
    if not THUMBPRINT.fullmatch(thumbprint):
        raise Http404("no such certificate")
    party = (
        TrustedParty.objects.local()
        .of_type(CertificateType.UPLOAD)
        .filter(thumbprint=thumbprint, country__in=countries)
        .first()
    )
    if party is None:
        raise Http404("no such certificate")
    return party


def _described(item: services.UploadCertificate, now: dt.datetime) -> dict[str, Any]:
    """What the pages show of an UPLOAD certificate (the dashboard's warning too)."""
    left = days_left(item.not_after, now)
    return {
        "party": item.party,
        "name": item.common_name or item.party.thumbprint[:16],
        "thumbprint": item.party.thumbprint,
        "status": item.party.status.lower(),
        "not_after": item.not_after,
        "note": validity_note(item.not_after, now),
        "expiring": left <= EXPIRING_SOON_DAYS,
        "signed": {str(kind): item.signed.get(kind, 0) for kind in services.EntityType},
        "total": item.total,
    }


def _refusal_words(exc: Rejected) -> str:
    return f"Refused ({exc.reason}): {exc.detail}"
