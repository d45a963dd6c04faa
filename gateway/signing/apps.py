from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "gateway.signing"
    label = "signing"
    verbose_name = "Publisher keys"
