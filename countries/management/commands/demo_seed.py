"""Seed the embedded demo: a trust anchor and virtual countries with keys on disk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from countries import services
from countries.identity import ClientIdentity
from countries.management.commands._common import write_private
from countries.models import TrustedParty
from gateway.pki import cms, issuance, onboarding
from gateway.pki.certs import certificate_der, load_pem_certificate, thumbprint
from trustlist.models import PublisherKey
from trustlist.publication import keys as publisher_keys
from trustlist.services import upload_signer_certificate

WALKTHROUGH = """\
Demo PKI in {root}
  trust anchor: {root}/trust-anchor/ta.pem (key beside it; demo only)
  per country C in {countries}: {root}/C/{{auth,upload,csca,dsc}}.{{pem,key}}
  XB's and XC's DSCs are already uploaded; XA's DSC is yours to upload.

The embedded server trusts identity headers from 127.0.0.1 (GATEWAY_TRUSTED_PROXIES), standing in
for nginx's mutual TLS. From the project folder:

  D={root}/XA
  SHA=$(openssl x509 -in $D/auth.pem -outform DER | sha256sum | cut -c1-64)
  AUTH=(-H "X-SSL-Client-SHA256: $SHA" -H "X-SSL-Client-DN: C=XA,CN=XA demo TLS client")

  # download the trust list
  curl -s "${{AUTH[@]}}" http://127.0.0.1:8000/trustList | python3 -m json.tool | head -30

  # upload XA's DSC: an attached CMS signed with XA's UPLOAD key, base64 without line breaks
  openssl x509 -in $D/dsc.pem -outform DER -out /tmp/xa-dsc.der
  openssl cms -sign -nodetach -binary -in /tmp/xa-dsc.der -signer $D/upload.pem -inkey $D/upload.key \\
      -outform DER | base64 -w0 > /tmp/xa-dsc.cms
  curl -si "${{AUTH[@]}}" -H "Content-Type: application/cms" --data-binary @/tmp/xa-dsc.cms \\
      http://127.0.0.1:8000/signerCertificate

  # check the DSC's entry: the signature is the uploader's detached CMS
  curl -s "${{AUTH[@]}}" http://127.0.0.1:8000/trustList/DSC/XA | python3 -m json.tool

  # revoke it (same CMS); a delta since an hour ago then shows it with rawData null
  curl -si "${{AUTH[@]}}" -X DELETE -H "Content-Type: application/cms" --data-binary @/tmp/xa-dsc.cms \\
      http://127.0.0.1:8000/signerCertificate
  curl -s "${{AUTH[@]}}" -H "If-Modified-Since: $(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)" \\
      http://127.0.0.1:8000/trustList/DSC

  # the signed lists for verifiers (no client certificate needed), and their check
  curl -s http://127.0.0.1:8000/publication/index.jws | python3 -c \\
      'import sys,json,base64; p=sys.stdin.read().split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p+"==")))' | head -c 400; echo
  .venv/bin/python manage.py verify_publication --trust-anchor {root}/trust-anchor/ta.pem \
      --dir var/publish

  API documentation: http://127.0.0.1:8000/api/docs
"""


class Command(BaseCommand):
    help = "Create (once) a demo trust anchor and virtual countries with AUTHENTICATION, UPLOAD, CSCA and DSC keys."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dir", default=str(Path(settings.VAR_DIR) / "demo"))
        parser.add_argument("--countries", default="XA,XB,XC")

    def handle(self, *args: Any, **options: Any) -> None:
        root = Path(options["dir"])
        countries = [c.strip().upper() for c in options["countries"].split(",") if c.strip()]
        ta_pem = root / "trust-anchor" / "ta.pem"
        if str(ta_pem) not in settings.GATEWAY_TRUST_ANCHOR_FILES and str(ta_pem.resolve()) not in [
            str(Path(p).resolve()) for p in settings.GATEWAY_TRUST_ANCHOR_FILES
        ]:
            raise CommandError(f"set GATEWAY_TRUST_ANCHOR_FILES={ta_pem} so that the gateway trusts the demo anchor")
        now = timezone.now()
        if not ta_pem.exists():
            ta = issuance.issue(issuance.name("Demo Trust Anchor"), at=now, days=3650, ca=True)
            write_private(root / "trust-anchor" / "ta.key", ta.key_pem)
            ta_pem.write_bytes(ta.cert_pem)
        ta_cert = load_pem_certificate(ta_pem.read_bytes())
        ta_key = issuance.load_private_key((root / "trust-anchor" / "ta.key").read_bytes())
        ta = issuance.Issued(ta_cert, ta_key)
        self._seed_publisher(ta, now)
        for country in countries:
            self._seed_country(root / country, country, ta, now, upload_dsc=country != countries[0])
        text = WALKTHROUGH.format(root=root, countries=",".join(countries))
        (root / "README.txt").write_text(text)
        self.stdout.write(text)

    def _seed_publisher(self, ta: issuance.Issued, now: Any) -> None:
        """A publisher key certified inline by the demo trust anchor (a real TA certifies a CSR offline)."""
        if PublisherKey.objects.exists():
            return
        pending = publisher_keys.create_csr(label="demo-publisher", at=now)
        csr = x509.load_pem_x509_csr(pending.csr_pem.encode())
        certificate = issuance.certify_csr(csr, ca=ta, at=now, days=365)
        publisher_keys.install_certificate(
            label=pending.label, certificate_der_bytes=certificate_der(certificate), at=now, actor="manage.py demo_seed"
        )
        self.stdout.write("installed the demo publisher key")

    def _seed_country(self, folder: Path, country: str, ta: issuance.Issued, now: Any, *, upload_dsc: bool) -> None:
        if (folder / "dsc.pem").exists():
            return
        auth = issuance.issue(
            issuance.name(f"{country} demo TLS client", country),
            at=now,
            days=730,
            extended_key_usage=issuance.tls_client_eku(),
        )
        upload = issuance.issue(issuance.name(f"{country} demo upload", country), at=now, days=730)
        csca = issuance.issue(issuance.name(f"{country} demo CSCA", country), at=now, days=1460, ca=True)
        dsc = issuance.issue(
            issuance.name(f"{country} demo DSC", country),
            at=now,
            days=730,
            issuer=csca,
            extended_key_usage=[issuance.EKU_TEST, issuance.EKU_VACCINATION, issuance.EKU_RECOVERY],
        )
        for label, item in (("auth", auth), ("upload", upload), ("csca", csca), ("dsc", dsc)):
            write_private(folder / f"{label}.key", item.key_pem)
            (folder / f"{label}.pem").write_bytes(item.cert_pem)
        for certificate_type, item in (("AUTHENTICATION", auth), ("UPLOAD", upload), ("CSCA", csca)):
            if not TrustedParty.objects.filter(thumbprint=thumbprint(item.der)).exists():
                services.onboard(
                    country=country,
                    certificate_type=certificate_type,
                    der=item.der,
                    signature_b64=onboarding.sign_onboarding(item.der, ta.der, ta.key),
                    actor="manage.py demo_seed",
                    at=now,
                )
        if upload_dsc:
            party = TrustedParty.objects.get(thumbprint=thumbprint(auth.der))
            identity = ClientIdentity(country=country, thumbprint=party.thumbprint, party_id=party.pk)
            upload_signer_certificate(
                identity=identity,
                cms_der=cms.sign(dsc.der, upload.certificate, upload.key, detached=False),
                at=now,
                actor="manage.py demo_seed",
            )
        self.stdout.write(f"seeded {country} in {folder}")
