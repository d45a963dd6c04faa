"""The one place that decides what a person may see and do (admin and any API serving people).

Roles:
- operator (group "Operators"): onboards, suspends and removes countries' certificates, sees every
  country's rules, revocation batches and trusted references, imports the value sets (they are the
  EU's, not a country's);
- country admin (Membership ADMIN): sees its countries' keys, rules, revocation batches and trusted
  references, uploads and revokes their DSCs, uploads and deletes their rules, deletes their
  revocation batches, re-signs what an expiring UPLOAD key signed (a CMS migration);
- country viewer (Membership VIEWER): sees its countries' keys, rules, revocation batches and
  trusted references;
- auditor (group "Auditors", gateway.audit.roles): reads the audit log and every country's keys,
  rules, revocation batches and trusted references (an audit compares what the log says with what
  is stored), changes nothing.
Trusted references are a national backend's machine work (uploaded and deleted over the API,
signed by its UPLOAD key): nobody changes them in the admin.
Everyone with a role reads the value sets: every country's rules refer to them.
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
    VIEW_RULES = "view_rules"
    UPLOAD_RULE = "upload_rule"
    DELETE_RULE = "delete_rule"
    VIEW_VALUESETS = "view_valuesets"
    IMPORT_VALUESETS = "import_valuesets"
    VIEW_REVOCATION = "view_revocation"
    DELETE_REVOCATION = "delete_revocation"
    RESIGN = "resign"  # a CMS migration: replace what an UPLOAD key signed by what a renewed one signs
    VIEW_REFERENCES = "view_references"


_COUNTRY_ROLES = {
    Do.VIEW_KEYS: {MembershipRole.ADMIN, MembershipRole.VIEWER},
    Do.UPLOAD_DSC: {MembershipRole.ADMIN},
    Do.REVOKE_DSC: {MembershipRole.ADMIN},
    Do.VIEW_RULES: {MembershipRole.ADMIN, MembershipRole.VIEWER},
    Do.UPLOAD_RULE: {MembershipRole.ADMIN},
    Do.DELETE_RULE: {MembershipRole.ADMIN},
    Do.VIEW_VALUESETS: {MembershipRole.ADMIN, MembershipRole.VIEWER},
    Do.VIEW_REVOCATION: {MembershipRole.ADMIN, MembershipRole.VIEWER},
    Do.DELETE_REVOCATION: {MembershipRole.ADMIN},
    Do.RESIGN: {MembershipRole.ADMIN},
    Do.VIEW_REFERENCES: {MembershipRole.ADMIN, MembershipRole.VIEWER},
}
_OPERATOR_ACTIONS = {
    Do.VIEW_KEYS,
    Do.ONBOARD,
    Do.CHANGE_ONBOARDING,
    Do.VIEW_RULES,
    Do.VIEW_VALUESETS,
    Do.IMPORT_VALUESETS,
    Do.VIEW_REVOCATION,
    Do.VIEW_REFERENCES,
}
_AUDITOR_ACTIONS = {Do.VIEW_KEYS, Do.VIEW_RULES, Do.VIEW_VALUESETS, Do.VIEW_REVOCATION, Do.VIEW_REFERENCES}


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
