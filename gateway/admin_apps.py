"""The admin app, with the gateway's site (gateway.admin_site) as the default one.

Kept apart from admin_site.py: INSTALLED_APPS imports this before the app registry is ready."""

from django.contrib.admin.apps import AdminConfig


class GatewayAdminConfig(AdminConfig):
    default_site = "gateway.admin_site.GatewayAdminSite"
