"""Onboard a country's AUTHENTICATION, UPLOAD, CSCA or DECA certificate."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from countries import services
from countries.management.commands._common import read_bytes
from countries.models import CertificateType
from gateway.pki import issuance, onboarding
from gateway.pki.certs import certificate_der, load_pem_certificate
from gateway.pki.errors import Rejected


class Command(BaseCommand):
    help = "Onboard a certificate with its trust-anchor signature (from `ta_sign`)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--country", required=True)
        parser.add_argument("--type", required=True, choices=CertificateType.values)
        parser.add_argument("--cert", required=True, help="the certificate (PEM)")
        group = parser.add_mutually_exclusive_group(required=True)
        group.add_argument("--signature", help="file with the base64 detached CMS made by `ta_sign`")
        group.add_argument("--demo-ta-key", help="DEMO ONLY: sign inline with this trust anchor key")
        parser.add_argument("--demo-ta-cert", help="DEMO ONLY: the trust anchor certificate for --demo-ta-key")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            der = certificate_der(load_pem_certificate(read_bytes(options["cert"])))
            if options["signature"]:
                signature = read_bytes(options["signature"]).decode("ascii").strip()
            else:
                if not options["demo_ta_cert"]:
                    raise CommandError("--demo-ta-key needs --demo-ta-cert")
                ta_der = certificate_der(load_pem_certificate(read_bytes(options["demo_ta_cert"])))
                signature = onboarding.sign_onboarding(
                    der, ta_der, issuance.load_private_key(read_bytes(options["demo_ta_key"]))
                )
            party = services.onboard(
                country=options["country"].upper(),
                certificate_type=options["type"],
                der=der,
                signature_b64=signature,
                actor="manage.py onboard",
                at=timezone.now(),
            )
        except Rejected as exc:
            raise CommandError(f"refused ({exc.reason}): {exc.detail}") from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"onboarded {party.country} {party.certificate_type} {party.thumbprint}")
