"""The admin app, with the gateway's site (gateway.admin_site) as the default one, and the
third-party apps it shows under readable section titles.

Kept apart from admin_site.py: INSTALLED_APPS imports this before the app registry is ready."""

from axes.apps import AppConfig as AxesConfig
from django.contrib.admin.apps import AdminConfig
from django_otp.plugins.otp_totp.apps import DefaultConfig


class GatewayAdminConfig(AdminConfig):
    default_site = "gateway.admin_site.GatewayAdminSite"


class TOTPDevicesConfig(DefaultConfig):
    """django-otp's TOTP app under a title people read (its own is the label, "OTP_TOTP")."""

    verbose_name = "One-time password devices"


class LoginLockoutsConfig(AxesConfig):
    """django-axes under a title people read (its own is "AXES")."""

    verbose_name = "Failed logins and lockouts"
