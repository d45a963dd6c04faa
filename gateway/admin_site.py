"""The admin site: one-time passwords required (django-otp), a dashboard on the index page,
bulk delete disabled everywhere."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.template.response import TemplateResponse
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite


class GatewayLoginForm(OTPAdminAuthenticationForm):
    """Username, password and one-time password on one page. django-otp asks which device to
    check so that one token never counts as a failure against every device; a person with a
    single device (the usual case) need not choose it."""

    def several_devices(self) -> bool:
        """Whether to ask which authenticator: only a person with more than one can choose (the
        choices, filled in after a failed attempt, start with a blank entry)."""
        return len(self.fields["otp_device"].widget.choices) > 2

    def _chosen_device(self, user: Any) -> Any:
        chosen = super()._chosen_device(user)
        if chosen is None:
            devices = list(devices_for_user(user, confirmed=True, for_verify=True))
            if len(devices) == 1:
                return devices[0]
        return chosen


class GatewayAdminSite(OTPAdminSite):
    site_header = "Trust gateway"
    site_title = "Trust gateway"
    index_title = "Dashboard"
    index_template = "admin/gateway_index.html"
    login_form = GatewayLoginForm
    # The sections are a handful, and the breadcrumbs lead to them; the key lists need the width.
    enable_nav_sidebar = False
    # django-otp's login page offers a device list and a "Get OTP Challenge" button to everyone;
    # ours asks for the code in words and lists devices only to a person who has several.
    login_template = "admin/gateway_login.html"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.disable_action("delete_selected")

    def index(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
        from oversight.dashboard import dashboard_context

        return super().index(request, {**(extra_context or {}), **dashboard_context(request.user)})
