"""The admin site: one-time passwords required (django-otp), a dashboard on the index page,
bulk delete disabled everywhere."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.response import TemplateResponse
from django_otp.admin import OTPAdminSite


class GatewayAdminSite(OTPAdminSite):
    site_header = "Trust gateway"
    site_title = "Trust gateway"
    index_title = "Dashboard"
    index_template = "admin/gateway_index.html"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.disable_action("delete_selected")

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from countries.dashboard import dashboard_context

        return super().index(request, {**(extra_context or {}), **dashboard_context(request.user)})
