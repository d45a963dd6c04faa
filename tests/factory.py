"""In-process PKI factory: every certificate a test needs, made with ``cryptography``.

A :class:`Pki` holds a trust anchor; :meth:`Pki.country` makes a country's AUTHENTICATION,
UPLOAD and CSCA certificates (optionally onboarding them with real TA signatures), and
:class:`CountryPki` issues DSCs and the CMS messages a national backend would send.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from gateway.pki import cms, issuance, onboarding
from gateway.pki.certs import thumbprint
from gateway.pki.issuance import Issued

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@dataclass
class CountryPki:
    code: str
    auth: Issued
    upload: Issued
    csca: Issued
    ta: Issued
    dscs: list[Issued] = field(default_factory=list)

    def dsc(
        self,
        *,
        csca: Issued | None = None,
        country: str | None = None,
        organization: str | None = None,
        **kwargs: object,
    ) -> Issued:
        subject = issuance.name(
            f"{self.code} DSC {len(self.dscs)}", country if country is not None else self.code, organization
        )
        issued = issuance.issue(
            subject,
            at=kwargs.pop("at", NOW),
            issuer=csca or self.csca,  # type: ignore[arg-type]
            extended_key_usage=kwargs.pop("extended_key_usage", [issuance.EKU_VACCINATION]),
            **kwargs,
        )  # type: ignore[arg-type]
        self.dscs.append(issued)
        return issued

    def cms(self, payload: bytes, *, signer: Issued | None = None) -> bytes:
        signer = signer or self.upload
        return cms.sign(payload, signer.certificate, signer.key, detached=False)

    def cms_b64(self, payload: bytes, *, signer: Issued | None = None) -> bytes:
        return base64.b64encode(self.cms(payload, signer=signer))

    def headers(self, **extra: str) -> dict[str, str]:
        """Identity headers as nginx would set them after a mutual TLS handshake."""
        return {
            "HTTP_X_SSL_CLIENT_SHA256": thumbprint(self.auth.der),
            "HTTP_X_SSL_CLIENT_DN": f"CN={self.code} TLS,C={self.code}",
            **extra,
        }

    @property
    def auth_thumbprint(self) -> str:
        return thumbprint(self.auth.der)


@dataclass
class Pki:
    ta: Issued

    @classmethod
    def create(cls) -> Pki:
        return cls(issuance.issue(issuance.name("Test Trust Anchor"), at=NOW, days=3650, ca=True))

    def sign(self, der: bytes) -> str:
        return onboarding.sign_onboarding(der, self.ta.der, self.ta.key)

    def country(self, code: str, *, onboard: bool = True) -> CountryPki:
        country = CountryPki(
            code=code,
            auth=issuance.issue(
                issuance.name(f"{code} TLS", code), at=NOW, extended_key_usage=issuance.tls_client_eku()
            ),
            upload=issuance.issue(issuance.name(f"{code} upload", code), at=NOW),
            csca=issuance.issue(issuance.name(f"{code} CSCA", code), at=NOW, days=1460, ca=True),
            ta=self.ta,
        )
        if onboard:
            for certificate_type, item in (
                ("AUTHENTICATION", country.auth),
                ("UPLOAD", country.upload),
                ("CSCA", country.csca),
            ):
                self.onboard(code, certificate_type, item)
        return country

    def onboard(self, code: str, certificate_type: str, item: Issued, *, signature: str | None = None) -> object:
        from countries import services

        return services.onboard(
            country=code,
            certificate_type=certificate_type,
            der=item.der,
            signature_b64=signature or self.sign(item.der),
            actor="test",
            at=NOW,
        )


# --- hostile certificate variants ----------------------------------------------------------------


def resign_tbs(
    cert: x509.Certificate, issuer_key: issuance.PrivateKey, mutate: object, hash_name: str = "sha256"
) -> bytes:
    """Re-encode ``cert``'s TBSCertificate after ``mutate(tbs)`` and sign it again with ``issuer_key``.

    Lets tests make certificates that cryptography's builder refuses to make (negative or huge
    serials, SHA-1 signatures, odd encodings), with valid signatures.
    """
    parsed = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    tbs = parsed["tbs_certificate"]
    mutate(tbs)  # type: ignore[operator]
    algorithm_name = {
        ("ec", "sha256"): "sha256_ecdsa",
        ("ec", "sha1"): "sha1_ecdsa",
        ("rsa", "sha256"): "sha256_rsa",
        ("rsa", "sha1"): "sha1_rsa",
        ("rsa", "md5"): "md5_rsa",
    }[("ec" if isinstance(issuer_key, ec.EllipticCurvePrivateKey) else "rsa", hash_name)]
    tbs["signature"] = {"algorithm": algorithm_name}
    parsed["signature_algorithm"] = {"algorithm": algorithm_name}
    tbs_der = tbs.dump(force=True)
    hash_algorithm = {"sha256": hashes.SHA256(), "sha1": hashes.SHA1(), "md5": hashes.MD5()}[hash_name]
    if isinstance(issuer_key, ec.EllipticCurvePrivateKey):
        signature = issuer_key.sign(tbs_der, ec.ECDSA(hash_algorithm))
    else:
        signature = issuer_key.sign(tbs_der, padding.PKCS1v15(), hash_algorithm)
    parsed["signature_value"] = signature
    return asn1_x509.Certificate(
        {"tbs_certificate": tbs, "signature_algorithm": parsed["signature_algorithm"], "signature_value": signature}
    ).dump(force=True)


def rsa_public_key(bits: int, exponent: int = 65537) -> rsa.RSAPublicKey:
    """An RSA public key of any size or exponent (the private half is not needed for a DSC test)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=max(bits, 1024))
    n = key.private_numbers().public_numbers.n
    return rsa.RSAPublicNumbers(exponent, n).public_key()
