"""A publisher certificate carries the publisher usage (key usage digitalSignature, the
publisher's extended key usage): `publisher_key csr` requests it, the trust anchor's
certification grants it (ours, and the ceremony's openssl extensions of docs/deployment.md),
and `publisher_key install` refuses a certificate of the trust anchor without it. That the
verifier refuses what such a certificate signs: tests/test_verifier_sync.py."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from django.core.management import CommandError, call_command

from gateway.audit.models import Action, AuditEvent
from gateway.pki import issuance
from gateway.signing.backend import load_private_key_file
from gateway.signing.models import PublisherKey
from tests.factory import NOW
from verifier.certificates import PUBLISHER_USAGE_OID, publisher_usage_problem

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def _csr(tmp_path: Path, label: str = "p1") -> x509.CertificateSigningRequest:
    out = tmp_path / f"{label}.csr"
    call_command("publisher_key", "csr", "--label", label, "--out", str(out), stdout=_Discard())
    return x509.load_pem_x509_csr(out.read_bytes())


class _Discard:
    def write(self, text: str) -> None:
        pass

    def flush(self) -> None:
        pass


def test_the_csr_requests_the_publisher_usage(tmp_path, frozen):
    csr = _csr(tmp_path)
    key_usage = csr.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical
    assert key_usage.value.digital_signature
    assert not key_usage.value.key_cert_sign
    assert list(csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [PUBLISHER_USAGE_OID]


def test_the_trust_anchors_certification_grants_it_whatever_the_csr_asks(pki):
    """The extensions are the anchor's: a CSR that requests nothing is certified for the usage."""
    plain = issuance.csr_for(issuance.new_key(), issuance.name("a publisher"))
    assert len(plain.extensions) == 0
    certificate = issuance.certify_csr(plain, ca=pki.ta, at=NOW, days=30)
    assert publisher_usage_problem(certificate) is None
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature


@pytest.mark.parametrize(
    "eku", [None, [ExtendedKeyUsageOID.CODE_SIGNING], [ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]]
)
def test_install_refuses_an_anchor_certificate_without_the_usage(pki, tmp_path, frozen, eku):
    _csr(tmp_path)
    pending = PublisherKey.objects.get(label="p1")
    key = load_private_key_file(Path(pending.key_path))
    # For this key, issued by the configured anchor, valid now: everything but the usage.
    certificate = issuance.issue(
        issuance.name("Trust gateway publisher p1"), at=NOW, issuer=pki.ta, key=key, extended_key_usage=eku
    )
    (tmp_path / "p1.pem").write_bytes(certificate.cert_pem)
    with pytest.raises(CommandError, match="PUBLISHER_USAGE"):
        call_command("publisher_key", "install", "--label", "p1", "--cert", str(tmp_path / "p1.pem"))
    assert PublisherKey.objects.get(label="p1").state == "PENDING"
    assert not AuditEvent.objects.filter(action=Action.PUBLISHER_KEY).exists()


def test_the_documented_ceremony_certifies_a_key_install_accepts(pki, tmp_path):
    """docs/deployment.md's openssl step, with its extensions file as written, makes a
    certificate with the publisher usage (`openssl x509 -req` copies no extension of the CSR)."""
    guide = (ROOT / "docs" / "deployment.md").read_text()
    extensions = re.search(r"cat > publisher\.ext <<'EOF'\n(.*?)\n *EOF\n", guide, re.S)
    assert extensions is not None, "docs/deployment.md no longer shows publisher.ext"
    (tmp_path / "publisher.ext").write_text("\n".join(line.strip() for line in extensions.group(1).splitlines()))
    (tmp_path / "ta.pem").write_bytes(pki.ta.cert_pem)
    (tmp_path / "ta.key").write_bytes(pki.ta.key_pem)
    _csr(tmp_path, "pub-2026")
    subprocess.run(
        # the guide's command; -days and -set_serial as it gives them
        [
            *("openssl", "x509", "-req", "-in", "pub-2026.csr", "-CA", "ta.pem", "-CAkey", "ta.key", "-sha256"),
            *("-days", "365", "-set_serial", "0x5eed", "-extfile", "publisher.ext", "-out", "pub-2026.pem"),
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        timeout=60,
    )
    certificate = x509.load_pem_x509_certificate((tmp_path / "pub-2026.pem").read_bytes())
    assert publisher_usage_problem(certificate) is None
    # openssl dates it from the real clock, which install then reads: no frozen time here
    call_command(
        "publisher_key", "install", "--label", "pub-2026", "--cert", str(tmp_path / "pub-2026.pem"), stdout=_Discard()
    )
    assert PublisherKey.objects.get(label="pub-2026").state == "CURRENT"
