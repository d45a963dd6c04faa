from django.apps import AppConfig


class TrustlistConfig(AppConfig):
    name = "trustlist"
    verbose_name = "Trust list"

    def ready(self) -> None:
        from countries.signer_kids import register_dsc_kid_query
        from publication.providers import register_trust_content
        from trustlist.content import TrustListContent
        from trustlist.models import country_has_kid

        register_trust_content(TrustListContent())
        register_dsc_kid_query(country_has_kid)
