from django.apps import AppConfig


class RevocationConfig(AppConfig):
    name = "revocation"
    verbose_name = "Revocation batches"

    def ready(self) -> None:
        from publication.providers import register_named_content
        from revocation.content import RevokedHashesContent

        register_named_content(RevokedHashesContent())
