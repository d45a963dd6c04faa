"""The commands that sign with a key kept offline (the trust anchor's, a country's UPLOAD key):
they read PEM files, touch no database, and print base64 of a CMS (or write it with --out).

What is signed is a certificate's DER by default (``--<subject_option>``); a command that signs
something else (``ta_sign_issuer``: an issuer's string) names its own arguments and bytes
(:meth:`OfflineSigningCommand.add_subject_arguments`, :meth:`OfflineSigningCommand.payload`)."""

from __future__ import annotations

import base64
from typing import Any

from cryptography import x509
from django.core.management.base import BaseCommand, CommandError, CommandParser

from countries.management.commands._common import read_bytes
from gateway.pki import cms, issuance
from gateway.pki.certs import certificate_der, load_pem_certificate
from gateway.pki.errors import Rejected


class OfflineSigningCommand(BaseCommand):
    """Sign the DER of ``--<subject_option>`` with ``--<signer_option>`` and its key."""

    requires_system_checks: list[str] = []
    requires_migrations_checks = False
    subject_option = "cert"
    subject_help = "certificate to sign (PEM)"
    signer_option = "signer"
    signer_help = "signing certificate (PEM)"
    key_option = "key"
    key_help = "its private key (PEM)"
    detached = True  # a detached CMS over the DER, or one that carries it (attached)

    def add_arguments(self, parser: CommandParser) -> None:
        self.add_subject_arguments(parser)
        parser.add_argument(f"--{self.signer_option}", required=True, help=self.signer_help)
        parser.add_argument(f"--{self.key_option}", required=True, help=self.key_help)
        parser.add_argument("--out", help="write here instead of standard output")

    def add_subject_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(f"--{self.subject_option}", required=True, help=self.subject_help)

    def payload(self, options: dict[str, Any]) -> bytes:
        """The bytes to sign (raise Rejected or ValueError when the arguments do not make them)."""
        return certificate_der(load_pem_certificate(read_bytes(options[self.subject_option.replace("-", "_")])))

    def handle(self, *args: Any, **options: Any) -> None:
        def option(name: str) -> str:
            return options[name.replace("-", "_")]

        try:
            subject = self.payload(options)
            signer: x509.Certificate = load_pem_certificate(read_bytes(option(self.signer_option)))
            key = issuance.load_private_key(read_bytes(option(self.key_option)))
        except (Rejected, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        text = base64.b64encode(cms.sign(subject, signer, key, detached=self.detached)).decode("ascii")
        if options["out"]:
            with open(options["out"], "w", encoding="ascii") as handle:
                handle.write(text + "\n")
        else:
            self.stdout.write(text)
