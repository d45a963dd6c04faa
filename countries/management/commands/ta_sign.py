"""Sign an onboarding entry with the trust anchor, offline (no database): dgc-cli ``ta sign``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from countries.management.commands._common import read_bytes
from gateway.pki import issuance, onboarding
from gateway.pki.certs import certificate_der, load_pem_certificate
from gateway.pki.errors import Rejected


class Command(BaseCommand):
    help = "Print the base64 detached CMS by the trust anchor over a certificate's DER (offline)."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ta-cert", required=True, help="trust anchor certificate (PEM)")
        parser.add_argument("--ta-key", required=True, help="trust anchor private key (PEM)")
        parser.add_argument("--cert", required=True, help="certificate to onboard (PEM)")
        parser.add_argument("--out", help="write the signature here instead of standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ta_der = certificate_der(load_pem_certificate(read_bytes(options["ta_cert"])))
            cert_der = certificate_der(load_pem_certificate(read_bytes(options["cert"])))
            key = issuance.load_private_key(read_bytes(options["ta_key"]))
        except (Rejected, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        signature = onboarding.sign_onboarding(cert_der, ta_der, key)
        if options["out"]:
            with open(options["out"], "w", encoding="ascii") as handle:
                handle.write(signature + "\n")
        else:
            self.stdout.write(signature)
