"""Key and certificate issuance for demos, tests and the trust-anchor tooling.

Production keys of countries never pass through the gateway; this module exists so that an
operator can create a demo trust anchor and so that demos and tests build real PKIs in-process.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from verifier.certificates import PUBLISHER_USAGE_OID

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

# Extended key usages of DSCs (eHealth network guidelines on DCC technical specifications,
# vol. 1 §5.1.1): which certificate types a DSC may sign.
EKU_TEST = x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.1")
EKU_VACCINATION = x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.2")
EKU_RECOVERY = x509.ObjectIdentifier("1.3.6.1.4.1.1847.2021.1.3")


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def new_key(kind: str = "ec-p256") -> PrivateKey:
    if kind == "ec-p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "ec-p384":
        return ec.generate_private_key(ec.SECP384R1())
    if kind.startswith("rsa-"):
        return rsa.generate_private_key(public_exponent=65537, key_size=int(kind.removeprefix("rsa-")))
    raise ValueError(f"unknown key kind {kind}")


def name(common_name: str, country: str | None = None, organization: str | None = None) -> x509.Name:
    attributes = []
    if country:
        attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def issue(
    subject: x509.Name,
    *,
    at: dt.datetime,
    days: int = 365,
    issuer: Issued | None = None,
    key: PrivateKey | None = None,
    ca: bool = False,
    extended_key_usage: list[x509.ObjectIdentifier] | None = None,
    serial: int | None = None,
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """Issue a certificate (self-signed when ``issuer`` is None)."""
    key = key or new_key()
    signing_key = issuer.key if issuer else key
    issuer_name = issuer.certificate.subject if issuer else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(serial if serial is not None else secrets.randbits(120) | 1 << 119)
        .not_valid_before(not_before or at - dt.timedelta(days=1))
        .not_valid_after(not_after or at + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
    else:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
    if extended_key_usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended_key_usage), critical=False)
    return Issued(builder.sign(signing_key, hashes.SHA256()), key)


def tls_client_eku() -> list[x509.ObjectIdentifier]:
    return [ExtendedKeyUsageOID.CLIENT_AUTH]


def load_private_key(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ValueError("only EC and RSA keys are supported")
    return key


# A publisher key signs published trust data and nothing else: key usage digitalSignature only
# (RFC 5280 §4.2.1.3, critical as §4.2.1.3 recommends) and the publisher's extended key usage
# (§4.2.1.12; non-critical, as for DSCs: verifiers that do not know it need not refuse the
# certificate, ours require it). Requested in the CSR and set by the trust anchor's certification.
PUBLISHER_KEY_USAGE = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
PUBLISHER_EXTENDED_KEY_USAGE = x509.ExtendedKeyUsage([PUBLISHER_USAGE_OID])


def certify_csr(csr: x509.CertificateSigningRequest, *, ca: Issued, at: dt.datetime, days: int) -> x509.Certificate:
    """The trust anchor's offline step for a publisher key: certify the CSR's key and subject for
    the publisher usage. The extensions are the anchor's decision, not copied from the CSR."""
    if not csr.is_signature_valid:
        raise ValueError("the CSR's self-signature does not verify")
    return (
        x509.CertificateBuilder()
        .subject_name(csr.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(csr.public_key())
        .serial_number(secrets.randbits(120) | 1 << 119)
        .not_valid_before(at - dt.timedelta(minutes=5))
        .not_valid_after(at + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(PUBLISHER_KEY_USAGE, critical=True)
        .add_extension(PUBLISHER_EXTENDED_KEY_USAGE, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(csr.public_key()), critical=False)  # type: ignore[arg-type]
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )


def csr_for(key: PrivateKey, subject: x509.Name, *, publisher: bool = False) -> x509.CertificateSigningRequest:
    """A CSR for ``key``; for a publisher key it requests the publisher's key usages (RFC 2986
    extensionRequest), so that whoever certifies it sees what the key is for."""
    builder = x509.CertificateSigningRequestBuilder().subject_name(subject)
    if publisher:
        builder = builder.add_extension(PUBLISHER_KEY_USAGE, critical=True).add_extension(
            PUBLISHER_EXTENDED_KEY_USAGE, critical=False
        )
    return builder.sign(key, hashes.SHA256())
