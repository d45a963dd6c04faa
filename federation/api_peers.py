"""A TNG- or DGCG-compatible peer: its trust list API over mutual TLS with this gateway's own
client certificate, every entry verified as the peer's own clients verify it (reference:
gateway-api §3.2, §3.3, §6.2):

- a CSCA or UPLOAD entry: its ``signature`` is a detached CMS by the peer's trust anchor over the
  certificate (``gateway.pki.onboarding``, the check of this gateway's own onboarded rows);
- a DSC: its ``signature`` is its country's upload, a CMS by one of that country's verified UPLOAD
  certificates over the DSC (attached in TNG's ``/trustList/certificate``, detached in DGCG's
  ``/trustList/DSC``), and one of the country's verified CSCAs issued it.

One entry that does not verify refuses the whole list (``PEER_ENTRY_INVALID``): a peer that serves
a forged entry is not trusted for the rest of that answer either. The list carries no sequence, so
each sync downloads it whole and it is applied as a difference (nothing unchanged is rewritten).
The same checks read an offline file of either form (``manage.py peer_sync --file``).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from countries.policy import configured_cms_policy, configured_policy
from federation import statements
from federation.importing import PeerState
from federation.models import Peer, PeerKind
from gateway.pki import cms, onboarding
from gateway.pki.certs import certificate_der, certificate_view, dcc_usages, read_certificate, thumbprint
from gateway.pki.chain import find_issuing_csca
from gateway.pki.errors import Reason, Rejected
from gateway.pki.findings import Findings
from gateway.pki.policy import check_encoding
from verifier.fetch import Deadline, http_fetch
from verifier.reasons import PublicationReason, VerificationError

MAX_LIST_BYTES = 512 * 1024 * 1024
TNG_PATHS = {"certificate": "trustList/certificate"}
DGCG_PATHS = {"UPLOAD": "trustList/UPLOAD", "CSCA": "trustList/CSCA", "DSC": "trustList/DSC"}
# A list fetcher: path -> body (over mutual TLS from the peer, or read from an offline file).
Lists = Mapping[str, bytes]


def paths(kind: str) -> dict[str, str]:
    return TNG_PATHS if kind == PeerKind.TNG else DGCG_PATHS


def client_tls() -> ssl.SSLContext:
    """This gateway's client certificate for its peers' mutual TLS, and the CAs their servers'
    certificates must chain to (GATEWAY_FEDERATION_CA_FILE; the system's when empty)."""
    context = ssl.create_default_context(cafile=settings.GATEWAY_FEDERATION_CA_FILE or None)
    if settings.GATEWAY_FEDERATION_CLIENT_CERT:
        context.load_cert_chain(settings.GATEWAY_FEDERATION_CLIENT_CERT, settings.GATEWAY_FEDERATION_CLIENT_KEY or None)
    return context


def download(peer: Peer, *, timeout: float, tls: ssl.SSLContext | None = None) -> dict[str, bytes]:
    """Every list of the peer's kind, within one deadline. Raises VerificationError."""
    base = peer.endpoint.rstrip("/") + "/"
    bodies = {}
    with Deadline(timeout) as deadline:
        for name, path in paths(peer.kind).items():
            response = http_fetch(
                base + path,
                {"Accept": "application/json"},
                MAX_LIST_BYTES,
                deadline=deadline,
                tls=tls or client_tls(),
            )
            if response.status != 200:
                raise VerificationError(PublicationReason.HTTP_ERROR, f"{path}: HTTP {response.status}")
            bodies[name] = response.body
    return bodies


@dataclass(frozen=True)
class _Entry:
    group: str  # CSCA, UPLOAD, DSC, ... (TNG's group, DGCG's certificateType)
    country: str
    der: bytes
    signature: bytes  # DER of the CMS
    kid: str
    domain: str


def verified_state(peer: Peer, lists: Lists, at: dt.datetime) -> PeerState:
    """The peer's DSCs, each verified (see the module), in the published entry format that
    ``federation.importing`` reads, with the uploader's signature kept (detached)."""
    entries = _entries(peer.kind, lists)
    anchor = statements.trust_anchor_der(peer.trust_anchor)
    verified: dict[tuple[str, str], list[bytes]] = {}
    for entry in entries:
        if entry.group in ("CSCA", "UPLOAD"):
            signature = base64.b64encode(entry.signature).decode("ascii")
            try:
                onboarding.verify_onboarding(entry.der, signature, thumbprint(entry.der), (anchor,))
            except Rejected as exc:
                raise _invalid(entry, exc.detail) from None
            verified.setdefault((entry.group, entry.country), []).append(entry.der)
    trusted: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if entry.group != "DSC":
            continue
        trusted[thumbprint(entry.der)] = _dsc(peer.kind, entry, verified, at)
    return PeerState(None, trusted, {})


def _dsc(kind: str, entry: _Entry, verified: dict[tuple[str, str], list[bytes]], at: dt.datetime) -> dict[str, Any]:
    # The peer's uploads verified as its clients would, with this gateway's CMS policy: a DGCG
    # network's SHA-1 or attribute-free uploads need the dgcg profile here (docs/federation.md).
    cms_policy, dsc_policy = configured_cms_policy(), configured_policy()
    try:
        if kind == PeerKind.TNG:
            message = cms.parse_attached(entry.signature, cms_policy)
            if message.payload != entry.der:
                raise Rejected(Reason.PEER_ENTRY_INVALID, "its upload signs another certificate")
            detached = cms.detach(entry.signature)
        else:
            message = cms.verify_detached(entry.signature, entry.der, cms_policy)
            detached = entry.signature
        if message.signer_der not in verified.get(("UPLOAD", entry.country), []):
            raise Rejected(Reason.PEER_ENTRY_INVALID, "not uploaded with a verified UPLOAD certificate of its country")
        read = read_certificate(entry.der)
        # A DSC that is not DER: under strict, refused as an upload here would be; relaxed, the
        # import records it with this gateway's other findings (trustlist.federated).
        check_encoding(read, Findings(), require_der=dsc_policy.require_der)
        certificate = read.certificate
        cscas = [certificate_view(der) for der in verified.get(("CSCA", entry.country), [])]
        issuer = find_issuing_csca(read, cscas, country=entry.country, at=at, require_valid_csca=False)
    except Rejected as exc:
        raise _invalid(entry, exc.detail) from None
    return {
        "type": "DSC",
        "country": entry.country,
        "kid": entry.kid,
        "certificate": base64.b64encode(entry.der).decode("ascii"),
        "domain": entry.domain,
        "usages": list(dcc_usages(certificate)),
        "issuer": thumbprint(certificate_der(issuer)),
        "signature": base64.b64encode(detached).decode("ascii"),
        "uploader": thumbprint(message.signer_der),
    }


def _entries(kind: str, lists: Lists) -> list[_Entry]:
    try:
        if kind == PeerKind.TNG:
            return [
                _Entry(
                    str(item["group"]),
                    str(item["country"]),
                    base64.b64decode(item["certificate"], validate=True),
                    base64.b64decode(item["signature"], validate=True),
                    str(item.get("kid") or ""),
                    str(item.get("domain") or "DCC"),
                )
                for item in _array(lists["certificate"])
            ]
        return [
            _Entry(
                str(item["certificateType"]),
                str(item["country"]),
                base64.b64decode(item["rawData"], validate=True),
                base64.b64decode(item["signature"], validate=True),
                str(item.get("kid") or ""),
                "DCC",
            )
            for name in DGCG_PATHS
            for item in _array(lists[name])
            if item.get("rawData")  # DGCG lists a withdrawn DSC with rawData null
        ]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        raise Rejected(Reason.PEER_LIST_INVALID, f"an entry cannot be read ({type(exc).__name__}: {exc})") from None


def _array(body: bytes) -> list[dict[str, Any]]:
    value = json.loads(body)
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise TypeError("not a JSON array of objects")
    return value


def _invalid(entry: _Entry, detail: str) -> Rejected:
    return Rejected(Reason.PEER_ENTRY_INVALID, f"a {entry.group} of {entry.country} ({entry.kid}): {detail}")


def offline_lists(kind: str, data: bytes) -> dict[str, bytes]:
    """An offline export of a peer's lists, for air-gapped operation: one JSON object holding each
    list the peer's API answers under its name (TNG: ``certificate``; DGCG: ``UPLOAD``, ``CSCA``,
    ``DSC``), exactly as the API answered it; verified like a download."""
    try:
        value = json.loads(data)
        return {name: json.dumps(value[name]).encode("utf-8") for name in paths(kind)}
    except (KeyError, TypeError, ValueError) as exc:
        raise Rejected(Reason.PEER_LIST_INVALID, f"not an export of a {kind} peer's lists ({exc})") from None
