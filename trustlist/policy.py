"""The DSC policy as configured by the operator (GATEWAY_POLICY_* settings, docs/policy.md)."""

from __future__ import annotations

from django.conf import settings

from gateway.pki.policy import DscPolicy


def configured_policy() -> DscPolicy:
    return DscPolicy(
        check_serial=settings.GATEWAY_POLICY_CHECK_SERIAL,
        reject_unknown_critical_extensions=settings.GATEWAY_POLICY_REJECT_UNKNOWN_CRITICAL_EXTENSIONS,
        check_validity=settings.GATEWAY_POLICY_CHECK_VALIDITY,
        reject_not_yet_valid=settings.GATEWAY_POLICY_REJECT_NOT_YET_VALID,
        check_key=settings.GATEWAY_POLICY_CHECK_KEY,
        min_rsa_bits=settings.GATEWAY_POLICY_MIN_RSA_BITS,
        check_signature_algorithm=settings.GATEWAY_POLICY_CHECK_SIGNATURE_ALGORITHM,
        reject_ca_dsc=settings.GATEWAY_POLICY_REJECT_CA_DSC,
        allow_self_signed_csca_as_dsc=settings.GATEWAY_POLICY_ALLOW_SELF_SIGNED_CSCA_AS_DSC,
        require_valid_csca=settings.GATEWAY_POLICY_REQUIRE_VALID_CSCA,
    )
