"""Identity of country backends, from the TLS terminator's headers.

nginx (or another terminator) does the mutual TLS handshake and forwards the client
certificate as headers. Those headers are believed only when the request comes from a
configured proxy address: from anywhere else they are ignored, as if absent.

Sources, in order: ``X-SSL-Client-Cert`` (URL-encoded PEM; subject and hash both come from
the one certificate, so they cannot disagree), else ``X-SSL-Client-SHA256`` (hex, base64 or
URL-encoded base64) with ``X-SSL-Client-DN`` (RFC 4514, OpenSSL's legacy ``/C=..`` form, or
URL-encoded). The DN is parsed into RDNs; a ``C`` hidden inside another attribute's value
(``CN=x\\,C=FR``) does not count.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hmac
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote

from cryptography import x509
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.http import HttpRequest

from countries import trust_anchor
from countries.models import CertificateType, Status, TrustedParty
from gateway.audit import refusals
from gateway.audit.models import Action
from gateway.pki.certs import certificate_der, thumbprint
from gateway.pki.errors import Reason
from gateway.problems import Problem

_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
# Attribute names OpenSSL/nginx print that RFC 4514 does not define.
_EXTRA_DN_NAMES = {
    "emailAddress": NameOID.EMAIL_ADDRESS,
    "serialNumber": NameOID.SERIAL_NUMBER,
    "GN": NameOID.GIVEN_NAME,
    "SN": NameOID.SURNAME,
    "title": NameOID.TITLE,
    "organizationIdentifier": NameOID.ORGANIZATION_IDENTIFIER,
}


@dataclass(frozen=True)
class ClientIdentity:
    country: str
    thumbprint: str
    party_id: int
    roles: frozenset[str] = field(default_factory=frozenset)
    # The country's active, local onboarded rows of the types the endpoint asked for, read in the
    # authentication row's query (one round trip less per upload). Not yet verified: the service
    # re-verifies them as it would rows it read itself. None when the endpoint asked for none.
    prefetched: PrefetchedParties | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class PrefetchedParties:
    certificate_types: frozenset[str]
    rows: tuple[TrustedParty, ...]

    def covers(self, certificate_types: Iterable[str]) -> bool:
        return set(certificate_types) <= self.certificate_types


@dataclass(frozen=True)
class _Presented:
    thumbprint: str | None
    dn: str | None
    countries: tuple[str, ...] | None
    # Known only when the proxy forwards the whole certificate (nginx's optional_no_ca mode
    # proves key possession but checks no dates: we do).
    not_before: dt.datetime | None = None
    not_after: dt.datetime | None = None


# The attribute of a request that names the client authenticate() found, so that a later refusal
# of the same request is recorded with it (countries.refusals).
IDENTITY_ATTRIBUTE = "gateway_identity"


def presented_thumbprint(request: HttpRequest) -> str | None:
    """The thumbprint of the client certificate the request presented through a trusted proxy
    (not yet checked against the onboarded ones), or None."""
    return _presented(request).thumbprint


def authenticate(
    request: HttpRequest, *, at: dt.datetime, roles: Iterable[str] = (), parties: Sequence[str] = ()
) -> ClientIdentity:
    """Return the country backend behind ``request`` or raise the DGCG problem (0x400-0x403).

    ``parties``: certificate types (UPLOAD, CSCA, ...) of the country's onboarded rows the
    endpoint will need; they come back in ``prefetched``, read in the same query."""
    presented = _presented(request)
    if presented.thumbprint is None or presented.dn is None:
        _refuse(401, "0x400", "No thumbprint or distinguish name", Reason.MISSING_CLIENT_IDENTITY, at=at)
    assert presented.thumbprint is not None
    assert presented.dn is not None
    countries = presented.countries or ()
    if len(countries) != 1:
        _refuse(
            400,
            "0x401",
            "Client Certificate must contain country property",
            Reason.CLIENT_COUNTRY_MISSING,
            at=at,
            send_value=presented.dn,
            thumb=presented.thumbprint,
        )
    country = countries[0]
    party, prefetched = _load(country, presented.thumbprint, parties)
    if party is None or not trust_anchor.is_intact(party):
        _refuse(
            401,
            "0x402",
            "Client is not authorized to access the service",
            Reason.CLIENT_NOT_ONBOARDED,
            at=at,
            country=country,
            thumb=presented.thumbprint,
        )
    assert party is not None
    if party.source_gateway:
        _refuse(
            401,
            "0x402",
            "Client is not authorized to access the service",
            Reason.CLIENT_FEDERATED,
            at=at,
            country=country,
            thumb=presented.thumbprint,
            details="Certificate is federated. Only certificates onboarded on this Gateway are allowed to authenticate",
        )
    if presented.not_after is not None and not presented.not_before <= at <= presented.not_after:
        _refuse(
            401,
            "0x402",
            "Client is not authorized to access the service",
            Reason.CLIENT_CERT_EXPIRED,
            at=at,
            country=country,
            thumb=presented.thumbprint,
            details="client certificate is not valid now",
        )
    if party.status != Status.ACTIVE:
        _refuse(
            401,
            "0x402",
            "Client is not authorized to access the service",
            f"CLIENT_{party.status}",
            at=at,
            country=country,
            thumb=presented.thumbprint,
            details=f"certificate is {party.status.lower()}",
        )
    required = set(roles)
    # Roles cost a query; only the endpoints that declare roles (DGCG's revocation API) need them.
    granted = frozenset(party.roles.values_list("role", flat=True)) if required else frozenset()
    missing = required - granted
    if missing:
        _refuse(
            403,
            "0x403",
            "Client is not authorized to access the endpoint",
            Reason.ROLE_MISSING,
            at=at,
            country=country,
            thumb=presented.thumbprint,
            details=", ".join(sorted(missing)),
        )
    identity = ClientIdentity(
        country=country, thumbprint=party.thumbprint, party_id=party.pk, roles=granted, prefetched=prefetched
    )
    # A later refusal of this request is recorded with the client it refused (gateway.audit.refusals).
    setattr(request, IDENTITY_ATTRIBUTE, identity)
    return identity


def _load(
    country: str, presented_thumbprint: str, parties: Sequence[str]
) -> tuple[TrustedParty | None, PrefetchedParties | None]:
    """The AUTHENTICATION row presented (whatever its status: a suspended one is refused by name)
    and, in the same query, the active local rows of the ``parties`` types."""
    rows = _rows(country, presented_thumbprint, tuple(parties))
    party = next(
        (
            row
            for row in rows
            if row.certificate_type == CertificateType.AUTHENTICATION and row.thumbprint == presented_thumbprint
        ),
        None,
    )
    if not parties:
        return party, None
    # The statement already kept only active, local rows of these types.
    others = tuple(row for row in rows if row.certificate_type in parties)
    return party, PrefetchedParties(frozenset(parties), others)


def _rows(country: str, presented_thumbprint: str, parties: tuple[str, ...]) -> list[TrustedParty]:
    # Every API request runs this query: its text is built once per set of types (the ORM would
    # compile it each time, a sixth of an upload's CPU); the values are bound parameters.
    params: list[str] = [country, CertificateType.AUTHENTICATION, presented_thumbprint]
    if parties:
        params += [*parties, Status.ACTIVE, ""]
    return list(TrustedParty.objects.raw(_statement(parties), params))


@functools.cache
def _statement(parties: tuple[str, ...]) -> str:
    meta = TrustedParty._meta  # noqa: SLF001 - Django's public model metadata API
    # Columns named, not *: a prepared statement (server-side binding) must not change its result
    # shape when a migration adds a column while old connections still run it.
    columns = ", ".join(f'"{field.column}"' for field in meta.concrete_fields)
    wanted = '("certificate_type" = %s AND "thumbprint" = %s)'
    if parties:
        marks = ", ".join(["%s"] * len(parties))
        wanted += f' OR ("certificate_type" IN ({marks}) AND "status" = %s AND "source_gateway" = %s)'
    return f'SELECT {columns} FROM "{meta.db_table}" WHERE "country" = %s AND ({wanted}) ORDER BY "id"'  # noqa: S608 - no values


def from_trusted_proxy(request: HttpRequest) -> bool:
    """Did this request come through the TLS terminator? Its address must be a configured proxy
    ("unix" stands for gunicorn's unix socket, whose REMOTE_ADDR is empty) and, when
    GATEWAY_PROXY_SECRET is set, it must carry the secret the proxy adds, so that a request that
    reaches the application any other way cannot claim an identity."""
    secret = settings.GATEWAY_PROXY_SECRET
    if secret and not hmac.compare_digest(request.headers.get(settings.GATEWAY_HEADER_PROXY_SECRET, ""), secret):
        return False
    remote = request.META.get("REMOTE_ADDR", "")
    entries = tuple(settings.GATEWAY_TRUSTED_PROXIES)
    if remote == "":
        return "unix" in entries
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(address in network for network in _proxy_networks(entries))


def client_address(request: HttpRequest) -> str | None:
    """The address of the client behind ``request``, for the admin login's limits (django-axes
    asks it: ``AXES_CLIENT_IP_CALLABLE``). Behind nginx the application sees only the unix socket
    (REMOTE_ADDR is empty), so nginx names the client in ``X-Real-IP`` ($remote_addr, replacing
    whatever the client sent); that header is believed only when the request came through the
    proxy, by the rule the identity headers follow (:func:`from_trusted_proxy`: its address and
    its secret). Otherwise the request's own REMOTE_ADDR. None when that is no IP address either
    (a request that reached the socket without nginx): such requests share one address."""
    candidate = request.META.get("REMOTE_ADDR", "")
    if from_trusted_proxy(request):
        candidate = request.headers.get(settings.GATEWAY_HEADER_CLIENT_ADDRESS, "") or candidate
    try:
        return str(ipaddress.ip_address(candidate.strip()))
    except ValueError:
        return None


@functools.lru_cache(maxsize=8)
def _proxy_networks(entries: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(
        ipaddress.ip_network(entry.strip(), strict=False) for entry in entries if entry.strip() and entry != "unix"
    )


def _header(request: HttpRequest, name: str) -> str | None:
    value = request.headers.get(name)
    return value if value else None


def _presented(request: HttpRequest) -> _Presented:
    if not from_trusted_proxy(request):
        return _Presented(None, None, None)
    pem = _header(request, settings.GATEWAY_HEADER_CLIENT_CERT)
    if pem is not None:
        return _from_certificate(pem)
    return _Presented(
        normalise_thumbprint(_header(request, settings.GATEWAY_HEADER_CLIENT_SHA256)),
        _header(request, settings.GATEWAY_HEADER_CLIENT_DN),
        None
        if _header(request, settings.GATEWAY_HEADER_CLIENT_DN) is None
        else dn_countries(_header(request, settings.GATEWAY_HEADER_CLIENT_DN) or ""),
    )


# Pure functions of a header value, asked on every request with the same few values (one per
# country backend): memoised, bounded.
@functools.lru_cache(maxsize=256)
def _from_certificate(header: str) -> _Presented:
    text = unquote(header) if "%" in header else header
    try:
        cert = x509.load_pem_x509_certificate(text.encode("ascii", "replace"))
    except ValueError:
        return _Presented(None, None, None)
    countries = tuple(str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME))
    return _Presented(
        thumbprint(certificate_der(cert)),
        cert.subject.rfc4514_string(),
        countries,
        cert.not_valid_before_utc,
        cert.not_valid_after_utc,
    )


def normalise_thumbprint(value: str | None) -> str | None:
    """Hex (any case) as-is but lower-cased; otherwise (URL-decoded) base64 of the 32-byte digest."""
    if value is None:
        return None
    value = value.strip()
    if _HEX64.match(value):
        return value.lower()
    if "%" in value:
        value = unquote(value)
    try:
        digest = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return digest.hex() if len(digest) == 32 else None


@functools.lru_cache(maxsize=256)
def dn_countries(dn: str) -> tuple[str, ...]:
    """The ``C`` values of a subject DN string, parsed into RDNs."""
    text = unquote(dn) if "%" in dn else dn
    text = text.strip()
    try:
        if text.startswith("/"):
            # OpenSSL's legacy one-line form (nginx $ssl_client_s_dn_legacy): /C=XA/O=../CN=..
            # Its values cannot contain '/', so splitting is exact.
            parts = [part.split("=", 1) for part in text.strip("/").split("/") if "=" in part]
            return tuple(value.strip() for key, value in parts if key.strip().upper() == "C")
        name = x509.Name.from_rfc4514_string(text, _EXTRA_DN_NAMES)
    except ValueError:
        return ()
    return tuple(str(a.value) for a in name.get_attributes_for_oid(NameOID.COUNTRY_NAME))


def _refuse(
    status: int,
    code: str,
    problem: str,
    reason: str,
    *,
    at: dt.datetime,
    country: str = "",
    thumb: str = "",
    send_value: str = "",
    details: str = "",
) -> None:
    raise refusals.refuse(
        Problem(status, code, problem, send_value=send_value, details=details, reason=reason),
        action=Action.AUTHENTICATE,
        at=at,
        country=country,
        authentication_thumbprint=thumb,
    )
