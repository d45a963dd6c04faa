"""The checks of a trusted issuer's fields, each refusal a named reason (gateway.pki.errors).

The URL, name, country and type are what the trust anchor signs, so they are checked as given,
never rewritten (a changed byte would be another string): a URL is parsed and refused unless an
HTTP issuer's is an http(s) URL with a host and nothing else in its authority, and a DID issuer's
is a DID (W3C DID Core: ``did:<method>:<method-specific-id>``). Neither the name nor the URL may
hold ``;``: the signed string joins the fields with it, so a ``;`` inside one would let one
signature be read as the signature of other fields (an operator encodes it as ``%3B`` in a URL).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.conf import settings

from countries.codes import is_valid_country
from gateway.pki.errors import Reason, Rejected
from issuers.models import (
    DOMAIN_MAX,
    KEY_STORAGE_TYPE_MAX,
    NAME_MAX,
    SIGNATURE_MAX,
    SSL_PUBLIC_KEY_MAX,
    URL_MAX,
    IssuerType,
)

_IDCHAR = r"(?:[A-Za-z0-9._-]|%[0-9A-Fa-f]{2})"
DID = re.compile(rf"did:[a-z0-9]+:(?:{_IDCHAR}*:)*{_IDCHAR}+")
THUMBPRINT = re.compile(r"[0-9a-f]{64}")
KEY_STORAGE_TYPE = re.compile(r"[A-Za-z0-9._-]*")


def check_signed_fields(country: str, name: str, url: str, url_type: str) -> None:
    """The four fields the trust anchor signs."""
    if url_type not in IssuerType.values:
        raise Rejected(Reason.ISSUER_TYPE_INVALID, f"type {url_type[:16]!r} is not one of {IssuerType.values}")
    if not is_valid_country(country):
        raise Rejected(
            Reason.INVALID_COUNTRY, f"{country[:8]!r} is neither ISO 3166-1 alpha-2 nor a configured virtual country"
        )
    if not name or len(name) > NAME_MAX or not name.isprintable() or name != name.strip() or ";" in name:
        raise Rejected(
            Reason.ISSUER_FIELD_INVALID,
            f"the name is 1 to {NAME_MAX} printable characters, without ';' or surrounding spaces",
        )
    check_url(url, url_type)


def check_url(url: str, url_type: str) -> None:
    if not url or len(url) > URL_MAX or not url.isascii() or not url.isprintable() or " " in url or ";" in url:
        raise Rejected(
            Reason.ISSUER_URL_INVALID,
            f"the URL is 1 to {URL_MAX} printable ASCII characters, without spaces or ';' (percent-encode them)",
        )
    if url_type == IssuerType.DID:
        if not DID.fullmatch(url):
            raise Rejected(Reason.ISSUER_URL_INVALID, f"{url[:100]!r} is not a DID (did:<method>:<id>)")
        return
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError as exc:
        raise Rejected(Reason.ISSUER_URL_INVALID, f"{url[:100]!r} cannot be parsed as a URL ({exc})") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Rejected(Reason.ISSUER_URL_INVALID, f"{url[:100]!r} is not an http(s) URL with a host")
    if parts.username is not None or parts.password is not None or port == 0:
        raise Rejected(Reason.ISSUER_URL_INVALID, f"{url[:100]!r} names a user or port 0")


def check_other_fields(*, domain: str, thumbprint: str, ssl_public_key: str, key_storage_type: str) -> None:
    """The fields the signature does not cover (TNG's and DGCG's optional ones, and the domain)."""
    if not domain or len(domain) > DOMAIN_MAX or domain not in settings.GATEWAY_TRUSTED_CERTIFICATE_DOMAINS:
        raise Rejected(
            Reason.DOMAIN_NOT_ALLOWED,
            f"domain {domain[:40]!r} is not one of {settings.GATEWAY_TRUSTED_CERTIFICATE_DOMAINS}",
        )
    if thumbprint and not THUMBPRINT.fullmatch(thumbprint):
        raise Rejected(Reason.ISSUER_FIELD_INVALID, "the thumbprint is 64 hex digits (SHA-256)")
    if len(ssl_public_key) > SSL_PUBLIC_KEY_MAX or not all(
        character.isprintable() or character in "\r\n" for character in ssl_public_key
    ):
        raise Rejected(
            Reason.ISSUER_FIELD_INVALID, f"the TLS public key is at most {SSL_PUBLIC_KEY_MAX} printable characters"
        )
    if not ssl_public_key.isascii():
        raise Rejected(Reason.ISSUER_FIELD_INVALID, "the TLS public key is ASCII (base64 or PEM)")
    if len(key_storage_type) > KEY_STORAGE_TYPE_MAX or not KEY_STORAGE_TYPE.fullmatch(key_storage_type):
        raise Rejected(
            Reason.ISSUER_FIELD_INVALID,
            f"the key storage type is at most {KEY_STORAGE_TYPE_MAX} letters, digits, '.', '_' or '-' (e.g. JWKS)",
        )


def check_signature_text(signature: str) -> None:
    if not signature or len(signature) > SIGNATURE_MAX:
        raise Rejected(Reason.ISSUER_SIGNATURE_INVALID, f"the signature is 1 to {SIGNATURE_MAX} base64 characters")
