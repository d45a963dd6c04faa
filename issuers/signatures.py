"""What the trust anchor signs for a trusted issuer, and the check of that signature.

DGCG and TNG store an issuer with the trust anchor's base64 detached CMS over a UTF-8 string of
four of its fields, and drop an entry whose signature does not verify. The two sign different
strings (docs/issuers.md):

- ``dgcg``: ``country;name;url;urlType;`` (DGCG's TrustedIssuerService and the EU dgc-lib client,
  a trailing ``;``);
- ``tng``: ``country;name;url;urlType`` (TNG and ddcc-gateway-lib, none).

The offline ceremony (``manage.py ta_sign_issuer``) makes the one GATEWAY_ISSUER_SIGNATURE_FORMAT
names; an entry signed over either verifies, and the row records which (``signed_form``), so that
the publication tells verifiers which bytes to check. The signature verifies only if the CMS's
one signer certificate is DER-equal to a configured trust anchor (as onboarding's, DGCG's rule).
Checked at every use, memoised on the exact bytes (``gateway.pki.onboarding``'s way): an
unchanged row costs a lookup, an edited one is checked afresh.
"""

from __future__ import annotations

import base64
import binascii
import functools
from typing import Protocol

from cryptography import x509
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from gateway.pki import cms
from gateway.pki.errors import Reason, Rejected

DGCG = "dgcg"
TNG = "tng"
FORMS = (DGCG, TNG)
SEPARATOR = ";"


class IssuerFields(Protocol):
    country: str
    name: str
    url: str
    url_type: str
    signature: str
    signed_form: str


def signed_string(country: str, name: str, url: str, url_type: str, form: str) -> bytes:
    """The UTF-8 bytes the trust anchor signs, in ``form`` (``dgcg`` or ``tng``)."""
    if form not in FORMS:
        raise ValueError(f"unknown signed-string form {form!r}")
    text = SEPARATOR.join((country, name, url, url_type)) + (SEPARATOR if form == DGCG else "")
    return text.encode("utf-8")


def signed_string_of(issuer: IssuerFields) -> bytes:
    return signed_string(issuer.country, issuer.name, issuer.url, issuer.url_type, issuer.signed_form)


def configured_form() -> str:
    """The form GATEWAY_ISSUER_SIGNATURE_FORMAT asks the ceremony to produce."""
    form = settings.GATEWAY_ISSUER_SIGNATURE_FORMAT
    if form not in FORMS:
        raise ImproperlyConfigured(f"GATEWAY_ISSUER_SIGNATURE_FORMAT is dgcg or tng, not {form!r}")
    return form


def sign(data: bytes, ta_certificate: x509.Certificate, ta_key: object) -> str:
    """The offline ceremony's signature: base64 detached CMS over ``data``."""
    return base64.b64encode(cms.sign(data, ta_certificate, ta_key, detached=True)).decode("ascii")  # type: ignore[arg-type]


def form_of(country: str, name: str, url: str, url_type: str, signature: str, trust_anchors: tuple[bytes, ...]) -> str:
    """The form whose string ``signature`` verifies over (the configured one tried first); raise
    Rejected (ISSUER_SIGNATURE_INVALID, ISSUER_SIGNER_UNKNOWN) when neither does."""
    preferred = configured_form()
    failures = []
    for form in (preferred, *(other for other in FORMS if other != preferred)):
        failure = _failure(signed_string(country, name, url, url_type, form), signature, trust_anchors)
        if failure is None:
            return form
        failures.append(failure)
    # A CMS that verifies over one of the strings, by a signer that is no trust anchor, is named
    # for its signer; otherwise the failure over the configured form's string is the one to tell.
    reason, detail = next((f for f in failures if f[0] is Reason.ISSUER_SIGNER_UNKNOWN), failures[0])
    raise Rejected(reason, detail)


def check(issuer: IssuerFields, trust_anchors: tuple[bytes, ...]) -> None:
    """Raise Rejected unless ``issuer``'s signature is a configured trust anchor's over its string
    in the form it records."""
    if issuer.signed_form not in FORMS:
        raise Rejected(Reason.ISSUER_SIGNATURE_INVALID, f"unknown signed-string form {issuer.signed_form!r}")
    failure = _failure(signed_string_of(issuer), issuer.signature, trust_anchors)
    if failure is not None:
        raise Rejected(*failure)


def is_intact(issuer: IssuerFields, trust_anchors: tuple[bytes, ...]) -> bool:
    try:
        check(issuer, trust_anchors)
    except Rejected:
        return False
    return True


@functools.lru_cache(maxsize=4096)
def _failure(data: bytes, signature_b64: str, trust_anchors: tuple[bytes, ...]) -> tuple[Reason, str] | None:
    if not signature_b64:
        return Reason.ISSUER_SIGNATURE_INVALID, "no trust anchor signature"
    try:
        signature = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError):
        return Reason.ISSUER_SIGNATURE_INVALID, "the signature is not base64"
    try:
        message = cms.verify_detached(signature, data)
    except Rejected as exc:
        return Reason.ISSUER_SIGNATURE_INVALID, f"not a detached CMS over the issuer's string: {exc.detail}"
    if message.signer_der not in trust_anchors:
        return Reason.ISSUER_SIGNER_UNKNOWN, "signed by a certificate that is not a configured trust anchor"
    return None
