"""The page at ``/``: where a person who opens the gateway in a browser can go from here."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

# (title, route name, route arguments, what a reader finds there); every link is to a page of this
# gateway, so the list cannot name a route that does not exist (reverse() would fail the page).
LINKS = (
    ("API documentation", "api-docs", {}, "the DGCG/TNG-compatible API for national backends (OpenAPI)"),
    ("Administration", "admin:index", {}, "for operators, country admins and auditors (password and one-time code)"),
    ("Published index", "published", {"path": "index.jws"}, "the signed index verifiers download first"),
    ("DID document", "published", {"path": "did.json"}, "the trust list as a signed DID document"),
    ("Audit checkpoint", "audit-checkpoint", {}, "the latest signed tree head of the audit log"),
    ("Health", "health", {}, "the checks an operator's monitoring polls"),
)


@require_safe
def landing(request: HttpRequest) -> HttpResponse:
    links = [
        {"title": title, "href": reverse(name, kwargs=kwargs), "about": about} for title, name, kwargs, about in LINKS
    ]
    return render(request, "gateway/landing.html", {"links": links})
