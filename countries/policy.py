"""The DSC and CMS policy as configured: the profile (GATEWAY_POLICY_PROFILE) with each
GATEWAY_POLICY_* switch that is set overriding it (docs/policy.md). Read at each use, so that a
changed setting applies to the next upload, sync and audit alike."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import TypeVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from gateway.pki.policy import PROFILES, CmsPolicy, DscPolicy

_DSC_SETTINGS = {
    "require_der": "GATEWAY_POLICY_REQUIRE_DER",
    "check_serial": "GATEWAY_POLICY_CHECK_SERIAL",
    "reject_unknown_critical_extensions": "GATEWAY_POLICY_REJECT_UNKNOWN_CRITICAL_EXTENSIONS",
    "check_validity": "GATEWAY_POLICY_CHECK_VALIDITY",
    "reject_not_yet_valid": "GATEWAY_POLICY_REJECT_NOT_YET_VALID",
    "check_key": "GATEWAY_POLICY_CHECK_KEY",
    "min_rsa_bits": "GATEWAY_POLICY_MIN_RSA_BITS",
    "check_signature_algorithm": "GATEWAY_POLICY_CHECK_SIGNATURE_ALGORITHM",
    "allow_sha1_signatures": "GATEWAY_POLICY_ALLOW_SHA1_SIGNATURES",
    "reject_ca_dsc": "GATEWAY_POLICY_REJECT_CA_DSC",
    "allow_self_signed_csca_as_dsc": "GATEWAY_POLICY_ALLOW_SELF_SIGNED_CSCA_AS_DSC",
    "require_valid_csca": "GATEWAY_POLICY_REQUIRE_VALID_CSCA",
}
_CMS_SETTINGS = {
    "allow_sha1_digest": "GATEWAY_POLICY_CMS_ALLOW_SHA1",
    "require_signed_attributes": "GATEWAY_POLICY_CMS_REQUIRE_SIGNED_ATTRIBUTES",
    # One switch for every certificate's encoding: the DSC's and the CMS signer's alike.
    "require_der": "GATEWAY_POLICY_REQUIRE_DER",
}

_Policy = TypeVar("_Policy", DscPolicy, CmsPolicy)


def profile_name() -> str:
    name = settings.GATEWAY_POLICY_PROFILE
    if name not in PROFILES:  # countries.apps checks it at start; a changed setting is caught here
        raise ImproperlyConfigured(f"GATEWAY_POLICY_PROFILE is one of {', '.join(PROFILES)}, not {name!r}")
    return name


def configured_policy() -> DscPolicy:
    return _overridden(PROFILES[profile_name()].dsc, _DSC_SETTINGS)


def configured_cms_policy() -> CmsPolicy:
    return _overridden(PROFILES[profile_name()].cms, _CMS_SETTINGS)


def _overridden(base: _Policy, names: dict[str, str]) -> _Policy:
    assert set(names) == {field.name for field in fields(base)}, "every switch has its setting"
    overrides = {name: getattr(settings, setting) for name, setting in names.items()}
    return replace(base, **{name: value for name, value in overrides.items() if value is not None})
