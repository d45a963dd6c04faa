from django.apps import AppConfig


class TrustlistConfig(AppConfig):
    name = "trustlist"
    verbose_name = "Trust list"

    def ready(self) -> None:
        from publication.providers import register_trust_content
        from trustlist.content import TrustListContent

        register_trust_content(TrustListContent())
