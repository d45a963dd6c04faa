from django.apps import AppConfig


class RevocationConfig(AppConfig):
    name = "revocation"
    verbose_name = "Revocation batches"
