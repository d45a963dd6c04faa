from typing import Any

from django.apps import AppConfig
from django.core import checks


class IssuersConfig(AppConfig):
    name = "issuers"
    verbose_name = "Trusted issuers"

    def ready(self) -> None:
        from issuers.content import IssuersContent
        from publication.providers import register_named_content

        register_named_content(IssuersContent())
        checks.register(check_signature_format)


def check_signature_format(**_: Any) -> list[checks.CheckMessage]:
    """A misspelt GATEWAY_ISSUER_SIGNATURE_FORMAT fails at start, not at the first ceremony."""
    from django.conf import settings

    from issuers.signatures import FORMS

    if settings.GATEWAY_ISSUER_SIGNATURE_FORMAT in FORMS:
        return []
    return [
        checks.Error(
            f"GATEWAY_ISSUER_SIGNATURE_FORMAT is {settings.GATEWAY_ISSUER_SIGNATURE_FORMAT!r}",
            hint="dgcg (country;name;url;urlType;) or tng (country;name;url;urlType)",
            id="issuers.E001",
        )
    ]
