from typing import Any

from django.apps import AppConfig
from django.core import checks


class CountriesConfig(AppConfig):
    name = "countries"
    verbose_name = "Countries and onboarded certificates"

    def ready(self) -> None:
        checks.register(check_policy_profile)


def check_policy_profile(**_: Any) -> list[checks.CheckMessage]:
    """A misspelt GATEWAY_POLICY_PROFILE fails at start, not at the first upload."""
    from django.conf import settings

    from gateway.pki.policy import PROFILES

    if settings.GATEWAY_POLICY_PROFILE in PROFILES:
        return []
    return [
        checks.Error(
            f"GATEWAY_POLICY_PROFILE is {settings.GATEWAY_POLICY_PROFILE!r}",
            hint=f"one of {', '.join(PROFILES)} (docs/policy.md)",
            id="countries.E001",
        )
    ]
