"""Country codes: ISO 3166-1 alpha-2 plus the configured virtual test countries."""

from __future__ import annotations

import functools

import pycountry
from django.conf import settings


@functools.cache
def _iso_alpha2() -> frozenset[str]:
    return frozenset(country.alpha_2 for country in pycountry.countries)


def is_valid_country(code: str) -> bool:
    return code in _iso_alpha2() or code in settings.GATEWAY_VIRTUAL_COUNTRIES
