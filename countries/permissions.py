"""The one place that decides what a person may see and do (admin and any API serving people).

Roles:
- operator (group "Operators"): onboards, suspends and removes countries' certificates, all countries;
- country admin (Membership ADMIN): sees its countries' keys, uploads and revokes their DSCs;
- country viewer (Membership VIEWER): sees its countries' keys;
- auditor (group "Auditors", gateway.audit.roles): reads the audit log and every country's keys
  (an audit compares what the log says with what is stored), changes nothing.
Superusers are operators. Every rule is a function of (user, action, country).
"""

from __future__ import annotations

import enum
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from countries.models import MembershipRole
from gateway.audit.roles import AUDITORS

OPERATORS = "Operators"


class Do(enum.StrEnum):
    VIEW_KEYS = "view_keys"
    UPLOAD_DSC = "upload_dsc"
    REVOKE_DSC = "revoke_dsc"
    ONBOARD = "onboard"
    CHANGE_ONBOARDING = "change_onboarding"


_COUNTRY_ROLES = {
    Do.VIEW_KEYS: {MembershipRole.ADMIN, MembershipRole.VIEWER},
    Do.UPLOAD_DSC: {MembershipRole.ADMIN},
    Do.REVOKE_DSC: {MembershipRole.ADMIN},
}
_OPERATOR_ACTIONS = {Do.VIEW_KEYS, Do.ONBOARD, Do.CHANGE_ONBOARDING}
_AUDITOR_ACTIONS = {Do.VIEW_KEYS}


def is_operator(user: AbstractBaseUser | AnonymousUser) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_superuser) or _in_group(user, OPERATORS)


def is_auditor(user: AbstractBaseUser | AnonymousUser) -> bool:
    return bool(user.is_authenticated and user.is_active and _in_group(user, AUDITORS))


def _for_every_country(user: AbstractBaseUser | AnonymousUser, action: Do) -> bool:
    return (action in _OPERATOR_ACTIONS and is_operator(user)) or (action in _AUDITOR_ACTIONS and is_auditor(user))


def can(user: AbstractBaseUser | AnonymousUser, action: Do, country: str | None = None) -> bool:
    """May ``user`` do ``action`` for ``country`` (None: for some country)?"""
    if not user.is_authenticated or not user.is_active:
        return False
    if _for_every_country(user, action):
        return True
    roles = _COUNTRY_ROLES.get(action)
    if not roles:
        return False
    memberships = _memberships(user)
    if country is None:
        return any(role in roles for role in memberships.values())
    return memberships.get(country) in roles


def countries_for(user: AbstractBaseUser | AnonymousUser, action: Do) -> list[str] | None:
    """The countries ``user`` may act on; None means all (operators, and auditors for reading)."""
    if _for_every_country(user, action):
        return None
    if not user.is_authenticated or not user.is_active:
        return []
    roles = _COUNTRY_ROLES.get(action, set())
    return sorted(country for country, role in _memberships(user).items() if role in roles)


def _memberships(user: Any) -> dict[str, str]:
    cached = getattr(user, "gateway_memberships", None)
    if cached is None:
        cached = dict(user.memberships.values_list("country", "role"))
        user.gateway_memberships = cached
    return cached


def _in_group(user: Any, name: str) -> bool:
    cached = getattr(user, "gateway_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user.gateway_groups = cached
    return name in cached
