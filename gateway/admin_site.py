"""The admin site: one-time passwords required (django-otp) on the login of countries/login.py, a
dashboard on the index page, the CMS migration's pages (migration/admin_views.py), bulk delete
disabled everywhere."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django_otp.admin import OTPAdminSite

from countries.login import RETRY_AFTER_ATTRIBUTE, LoginForm


class GatewayAdminSite(OTPAdminSite):
    site_header = "Trust gateway"
    site_title = "Trust gateway"
    index_title = "Dashboard"
    index_template = "admin/gateway_index.html"
    login_form = LoginForm  # one answer for a wrong username, password or one-time password
    # The sections are a handful, and the breadcrumbs lead to them; the key lists need the width.
    enable_nav_sidebar = False
    # django-otp's login page offers a device list and a "Get OTP Challenge" button; ours asks
    # for the code in words and offers no device list (the form tries each of a person's).
    login_template = "admin/gateway_login.html"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.disable_action("delete_selected")

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        response = super().login(request, extra_context)
        retry_after = getattr(request, RETRY_AFTER_ATTRIBUTE, 0)
        if retry_after:  # too many failures at this username just now (countries/login_limits.py)
            response.status_code = 429  # RFC 6585 §4, with the wait
            response["Retry-After"] = str(retry_after)
        return response

    def get_urls(self) -> list[Any]:
        from migration.admin_views import urls

        return urls(self) + super().get_urls()

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from oversight.dashboard import dashboard_context

        return super().index(request, {**(extra_context or {}), **dashboard_context(request.user)})
