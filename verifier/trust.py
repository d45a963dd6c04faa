"""The DSCs a verifier trusts, indexed by kid, and the DSCs it knows to be revoked.

``TrustStore.from_trust_list_payload`` takes the payload of the gateway's published trust list
(docs/publication-format.md), after ``verifier.index`` has checked its signature. Loading
does not parse certificates: an entry keeps its base64 DER and is indexed by the kid the entry
states. The certificate is parsed the first time a signature names its kid, and its public key,
validity, EKU-derived usages and thumbprint check are then cached on the entry. That keeps
loading 10,000 DSCs in a few tens of milliseconds.

Usages follow the intersection rule (``verifier.usages``). When the trust list states
``usages`` too, a DSC may sign only what both allow.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from verifier.cose import ES256, MIN_RSA_BITS, PS256
from verifier.usages import usages_from_oids


def kid_of(der: bytes) -> bytes:
    """The DCC key identifier: the first 8 bytes of SHA-256 over the certificate's DER."""
    return hashlib.sha256(der).digest()[:8]


class _Parsed:
    __slots__ = ("alg", "country", "error", "not_after", "not_before", "public_key", "signature_size", "usages")

    def __init__(self) -> None:
        self.public_key: Any = None
        self.alg: int | None = None  # the COSE alg the key serves (ES256, PS256) or None
        self.signature_size = 0
        self.not_before = 0.0
        self.not_after = 0.0
        self.usages: frozenset[str] = frozenset()
        self.country: str | None = None
        self.error = ""


def _parse_certificate(der: bytes) -> _Parsed:
    """Key, validity (POSIX seconds), usages and subject country of a DSC.

    ``cryptography`` refuses some real DSCs in parts: an empty EKU SEQUENCE (the spec's "no OID,
    any type", test case CO15), an explicitly encoded cA=FALSE (FI), and a few others
    (docs/verifier-conformance.md). asn1crypto parses all of them, so it is the fallback for the parts
    ``cryptography`` refuses, and for the whole certificate if ``cryptography`` cannot load it.
    """
    parsed = _Parsed()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)  # non-positive serials
            cert = x509.load_der_x509_certificate(der)
        parsed.public_key = cert.public_key()
        parsed.not_before = cert.not_valid_before_utc.timestamp()
        parsed.not_after = cert.not_valid_after_utc.timestamp()
    except Exception:  # any parse failure: try asn1crypto before giving up
        return _parse_with_asn1crypto(der, parsed)
    try:
        oids: list[str] | None = [
            oid.dotted_string for oid in cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        ]
    except x509.ExtensionNotFound:
        oids = None
    except ValueError:
        oids = _eku_with_asn1crypto(der)
    parsed.usages = usages_from_oids(oids)
    try:
        countries = cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
        parsed.country = str(countries[0].value) if countries else None
    except ValueError:
        parsed.country = None
    return parsed


def _parse_with_asn1crypto(der: bytes, parsed: _Parsed) -> _Parsed:
    from asn1crypto import x509 as asn1_x509

    try:
        cert = asn1_x509.Certificate.load(der, strict=True)
        tbs = cert["tbs_certificate"]
        parsed.public_key = load_der_public_key(tbs["subject_public_key_info"].dump())
        parsed.not_before = tbs["validity"]["not_before"].native.timestamp()
        parsed.not_after = tbs["validity"]["not_after"].native.timestamp()
        parsed.usages = usages_from_oids(_eku_with_asn1crypto(der))
        parsed.country = cert.subject.native.get("country_name")
        if isinstance(parsed.country, list):
            parsed.country = parsed.country[0] if parsed.country else None
    except Exception as exc:  # an unparseable DSC is reported as DSC_UNUSABLE
        parsed.public_key = None
        parsed.error = f"certificate cannot be parsed: {exc}"
    return parsed


def _key_algorithm(parsed: _Parsed) -> None:
    key = parsed.public_key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        parsed.alg, parsed.signature_size = ES256, 64
    elif isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
        parsed.alg, parsed.signature_size = PS256, (key.key_size + 7) // 8


def _eku_with_asn1crypto(der: bytes) -> list[str] | None:
    from asn1crypto import x509 as asn1_x509

    try:
        value = asn1_x509.Certificate.load(der).extended_key_usage_value
    except ValueError:
        return []
    return None if value is None else [purpose.dotted for purpose in value]


class TrustedDsc:
    """One trusted DSC. ``source`` is a trust list entry (``certificate`` as base64 text or DER
    bytes; optional ``country``, ``thumbprint``, ``usages``): the store keeps a reference to it and
    reads it, and parses the certificate, only when a signature names this DSC's kid. Use
    ``TrustedDsc.of`` to make one from a certificate."""

    __slots__ = ("_der", "_parsed", "_thumbprint", "kid", "source")

    def __init__(self, kid: bytes, source: Mapping[str, Any]) -> None:
        self.kid = kid
        self.source = source
        self._der: bytes | None = None
        self._parsed: _Parsed | None = None
        self._thumbprint: str | None = None

    @classmethod
    def of(
        cls,
        certificate: x509.Certificate | bytes,
        *,
        kid: bytes | None = None,
        country: str | None = None,
        usages: Iterable[str] | None = None,
    ) -> TrustedDsc:
        """From a certificate (or its DER); the kid defaults to SHA-256(DER)[:8]."""
        der = certificate if isinstance(certificate, bytes) else certificate.public_bytes(Encoding.DER)
        source = {"certificate": der, "country": country, "usages": None if usages is None else list(usages)}
        return cls(kid_of(der) if kid is None else kid, source)

    def __repr__(self) -> str:
        return f"TrustedDsc(kid={kid_text(self.kid)}, country={self.country!r})"

    @property
    def country(self) -> str | None:
        """The entry's country, else (once parsed) the certificate subject's."""
        country = self.source.get("country")
        if isinstance(country, str):
            return country
        return None if self._parsed is None else self._parsed.country

    @property
    def der(self) -> bytes:
        if self._der is None:
            certificate = self.source.get("certificate")
            if isinstance(certificate, bytes):
                self._der = certificate
            else:
                try:
                    self._der = binascii.a2b_base64(certificate, strict_mode=True)  # type: ignore[arg-type]
                except (binascii.Error, ValueError, TypeError):
                    self._der = b""
        return self._der

    @property
    def thumbprint(self) -> str:
        """Lower-case hex SHA-256 of the DER."""
        if self._thumbprint is None:
            self._thumbprint = hashlib.sha256(self.der).hexdigest()
        return self._thumbprint

    def _parse(self) -> _Parsed:
        parsed = self._parsed
        if parsed is None:
            parsed = _Parsed()
            der = self.der
            published_thumbprint = self.source.get("thumbprint")
            published_usages = self.source.get("usages")
            if not der:
                parsed.error = "certificate is not valid base64"
            elif published_thumbprint is not None and str(published_thumbprint).lower() != self.thumbprint:
                parsed.error = "certificate does not match the thumbprint its trust list entry states"
            elif published_usages is not None and not (
                isinstance(published_usages, list) and all(isinstance(u, str) for u in published_usages)
            ):
                parsed.error = "the trust list entry's usages are not a list of names"
            else:
                parsed = _parse_certificate(der)
                _key_algorithm(parsed)
                if published_usages is not None:
                    parsed.usages = parsed.usages & frozenset(published_usages)
            self._parsed = parsed
        return parsed

    def verification_key(self) -> tuple[Any, int | None, int]:
        """``(public key or None, COSE alg it serves or None, signature size in bytes)``, cached."""
        parsed = self._parsed or self._parse()
        return parsed.public_key, parsed.alg, parsed.signature_size

    @property
    def public_key(self) -> Any:
        """The public key, or None when the certificate is unusable (see ``problem``)."""
        return self._parse().public_key

    @property
    def problem(self) -> str:
        return self._parse().error

    @property
    def alg(self) -> int | None:
        """The COSE algorithm the key serves: -7 (ES256, P-256), -37 (PS256, RSA >= 2048) or None."""
        return self._parse().alg

    @property
    def signature_size(self) -> int:
        return self._parse().signature_size

    @property
    def not_before(self) -> float:
        """POSIX seconds."""
        return self._parse().not_before

    @property
    def not_after(self) -> float:
        return self._parse().not_after

    @property
    def usages(self) -> frozenset[str]:
        return self._parse().usages

    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)


class DscLookup(Protocol):
    """What the verifier needs of a trust store: the DSCs that carry a kid."""

    def candidates(self, kid: bytes) -> Sequence[TrustedDsc]: ...


class TrustStore:
    """DSCs indexed by kid. Several DSCs may share a kid (it is a truncated hash): all are tried.

    ``expires_at`` (POSIX seconds): when the trust list it holds stops being current; a
    verification later than that fails (TRUST_LIST_EXPIRED) unless the caller allows a stale
    list. None: no expiry (a store a test built from certificates). ``description`` says where
    the DSCs come from, for every result to show."""

    def __init__(self, *, expires_at: float | None = None, description: str = "") -> None:
        self._by_kid: dict[bytes, list[TrustedDsc]] = {}
        self._count = 0
        self.skipped: list[str] = []  # trust list entries that could not be indexed, and why
        self.sequence: int | None = None
        self.expires_at = expires_at
        self.description = description

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Any:
        for entries in self._by_kid.values():
            yield from entries

    def __contains__(self, kid: object) -> bool:
        return kid in self._by_kid

    def kids(self) -> list[bytes]:
        return list(self._by_kid)

    def candidates(self, kid: bytes) -> Sequence[TrustedDsc]:
        return self._by_kid.get(kid, ())

    def add(self, dsc: TrustedDsc) -> TrustedDsc:
        self._by_kid.setdefault(dsc.kid, []).append(dsc)
        self._count += 1
        return dsc

    def add_certificate(
        self,
        certificate: x509.Certificate | bytes,
        *,
        kid: bytes | None = None,
        country: str | None = None,
        usages: Iterable[str] | None = None,
    ) -> TrustedDsc:
        return self.add(TrustedDsc.of(certificate, kid=kid, country=country, usages=usages))

    @classmethod
    def from_certificates(cls, certificates: Iterable[x509.Certificate | bytes]) -> TrustStore:
        """DER bytes or ``x509.Certificate`` objects, each indexed by its computed kid."""
        store = cls()
        for certificate in certificates:
            store.add_certificate(certificate)
        return store

    @classmethod
    def from_trust_list_payload(cls, payload: Mapping[str, Any], *, domains: Collection[str] = ("DCC",)) -> TrustStore:
        """Index the DSC entries of a published trust list payload (CSCA entries are not needed
        to verify a signature and are left out). Only the kid is decoded now; the store keeps a
        reference to each entry (do not modify the payload afterwards). Entries without a
        decodable kid are listed in ``skipped``; an entry whose certificate turns out unusable
        (bad base64, thumbprint mismatch, unparseable) fails as DSC_UNUSABLE when a signature
        names its kid. Only DCC signers count: entries of type DSC whose group is DSC and whose
        domain is one of ``domains`` (an entry without them is read as DSC of DCC)."""
        store = cls()
        sequence = payload.get("sequence")
        store.sequence = sequence if isinstance(sequence, int) else None
        by_kid = store._by_kid
        a2b = binascii.a2b_base64
        new = TrustedDsc
        count = 0
        for position, entry in enumerate(payload.get("entries", ())):
            try:
                if (
                    entry["type"] != "DSC"
                    or entry.get("group", "DSC") != "DSC"
                    or entry.get("domain", "DCC") not in domains
                ):
                    continue
                kid = a2b(entry["kid"], strict_mode=True)
            except (KeyError, TypeError, ValueError, binascii.Error) as exc:
                store.skipped.append(f"entry {position}: {type(exc).__name__}: {exc}")
                continue
            if not kid:
                store.skipped.append(f"entry {position}: empty kid")
                continue
            dsc = new(kid, entry)
            entries = by_kid.get(kid)
            if entries is None:
                by_kid[kid] = [dsc]
            else:
                entries.append(dsc)
            count += 1
        store._count = count
        return store


class RevocationSet:
    """Revoked DSCs, by thumbprint (exact) and by kid (every DSC carrying it)."""

    def __init__(
        self,
        *,
        kids: Iterable[bytes] = (),
        thumbprints: Iterable[str] = (),
        entries: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.kids = frozenset(kids)
        self.thumbprints = frozenset(t.lower() for t in thumbprints)
        # Revocation list entries by kid: to say when and by whom a DSC that no trusted DSC's kid
        # matches any more was revoked (a kid does not revoke by itself: kids are ambiguous).
        self._by_kid: dict[bytes, Mapping[str, Any]] = {}
        for entry in entries:
            try:
                self._by_kid[binascii.a2b_base64(entry["kid"], strict_mode=True)] = entry
            except (KeyError, TypeError, ValueError, binascii.Error):
                continue

    def revoked_entry(self, kid: bytes) -> Mapping[str, Any] | None:
        """The revocation list's entry of a revoked DSC with this kid, if any."""
        return self._by_kid.get(kid)

    def __bool__(self) -> bool:
        return bool(self.kids or self.thumbprints)

    def __len__(self) -> int:
        return len(self.kids) + len(self.thumbprints)

    def revokes(self, dsc: TrustedDsc) -> bool:
        return dsc.kid in self.kids or (bool(self.thumbprints) and dsc.thumbprint in self.thumbprints)

    @classmethod
    def from_revocation_list_payload(cls, payload: Mapping[str, Any]) -> RevocationSet:
        """The DSC entries of a published revocation list, by thumbprint (kids are ambiguous)."""
        entries = [
            entry
            for entry in payload.get("entries", ())
            if isinstance(entry, Mapping) and entry.get("type") == "DSC" and isinstance(entry.get("thumbprint"), str)
        ]
        return cls(thumbprints=[entry["thumbprint"] for entry in entries], entries=entries)


def kid_text(kid: bytes) -> str:
    """A kid as the DCC specification, the gateway and its admin write it: base64."""
    return base64.b64encode(kid).decode("ascii")


def posix(moment: dt.datetime) -> float:
    """POSIX seconds of an aware datetime; naive datetimes are refused (they would be read as
    local time)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the verification clock must be a timezone-aware datetime")
    return moment.timestamp()
