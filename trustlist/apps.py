from django.apps import AppConfig


class TrustlistConfig(AppConfig):
    name = "trustlist"
    verbose_name = "Trust list"
