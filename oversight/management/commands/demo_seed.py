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
from gateway.signing.models import PublisherKey
from oversight import demo
from publication import keys as publisher_keys
from trustlist.services import upload_signer_certificate

HEADER = """\
Demo PKI in {root}: the trust anchor's certificate and key (demo only) in {root}/trust-anchor/, and
for each of {countries} a folder {root}/C/ with {{auth,upload,csca,dsc}}.{{pem,key}}. XB's and XC's
DSCs are uploaded; the walkthrough makes a fresh DSC for XA and uploads it.

http://127.0.0.1:8000/ links the API docs, the admin and the published files. The embedded server
believes identity headers from 127.0.0.1 (GATEWAY_TRUSTED_PROXIES), standing in for nginx's mutual
TLS. In a second shell, from the project folder:

"""


class Command(BaseCommand):
    help = (
        "Create (once) a demo trust anchor, a publisher key and virtual countries with AUTHENTICATION, "
        "UPLOAD, CSCA and DSC keys; print the walkthrough. `make reset` removes the demo."
    )

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
        if ta_pem.exists():
            self._step(f"trust anchor {demo.shown_root(ta_pem)}: kept (make reset starts the demo afresh)")
        else:
            ta = issuance.issue(issuance.name("Demo Trust Anchor"), at=now, days=3650, ca=True)
            write_private(root / "trust-anchor" / "ta.key", ta.key_pem)
            ta_pem.write_bytes(ta.cert_pem)
            self._step(f"trust anchor {demo.shown_root(ta_pem)}: created")
        ta = issuance.Issued(
            load_pem_certificate(ta_pem.read_bytes()),
            issuance.load_private_key((root / "trust-anchor" / "ta.key").read_bytes()),
        )
        self._seed_publisher(ta, now)
        for country in countries:
            self._seed_country(root / country, country, ta, now, upload_dsc=country != countries[0])
        shown = demo.walkthrough(root)
        text = HEADER.format(root=demo.shown_root(root), countries=", ".join(countries)) + shown
        (root / "README.txt").write_text(text)
        self.stdout.write("\n" + text)

    def _step(self, line: str) -> None:
        self.stdout.write(f"demo: {line}")

    def _seed_publisher(self, ta: issuance.Issued, now: Any) -> None:
        """A publisher key certified inline by the demo trust anchor (a real TA certifies a CSR offline)."""
        if PublisherKey.objects.exists():
            self._step("publisher key: kept")
            return
        pending = publisher_keys.create_csr(label="demo-publisher", at=now)
        csr = x509.load_pem_x509_csr(pending.csr_pem.encode())
        certificate = issuance.certify_csr(csr, ca=ta, at=now, days=365)
        publisher_keys.install_certificate(
            label=pending.label, certificate_der_bytes=certificate_der(certificate), at=now, actor="manage.py demo_seed"
        )
        self._step("publisher key demo-publisher: certified by the trust anchor and installed")

    def _seed_country(self, folder: Path, country: str, ta: issuance.Issued, now: Any, *, upload_dsc: bool) -> None:
        if (folder / "dsc.pem").exists():
            self._step(f"{country} in {demo.shown_root(folder)}: kept")
            return
        organization = demo.organization(country)
        auth = issuance.issue(
            issuance.name(f"{country} demo TLS client", country, organization),
            at=now,
            days=730,
            extended_key_usage=issuance.tls_client_eku(),
        )
        upload = issuance.issue(issuance.name(f"{country} demo upload", country, organization), at=now, days=730)
        csca = issuance.issue(issuance.name(f"{country} demo CSCA", country, organization), at=now, days=1460, ca=True)
        for label, item in (("auth", auth), ("upload", upload), ("csca", csca)):
            demo.save(folder, label, item)
        dsc = demo.issue_dsc(folder, country, at=now)
        demo.save(folder, "dsc", dsc)
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
        state = "uploaded" if upload_dsc else "not uploaded"
        self._step(f"{country} in {demo.shown_root(folder)}: AUTHENTICATION, UPLOAD and CSCA onboarded; a DSC, {state}")
