"""Publisher keys: csr | install | demo-certify | activate-next | list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cryptography import x509
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from gateway.pki import issuance
from gateway.pki.certs import certificate_der, load_pem_certificate
from gateway.pki.errors import Rejected
from gateway.signing.backend import SignerKeyError, key_id
from gateway.signing.models import PublisherKey
from publication import keys


class Command(BaseCommand):
    help = "Manage publication signing keys (their certificates are issued by the trust anchor)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        csr = sub.add_parser("csr", help="generate a key (mode 0600) and print its CSR for the trust anchor")
        csr.add_argument("--label", required=True)
        csr.add_argument("--out", help="write the CSR (PEM) here")
        install = sub.add_parser("install", help="install the trust anchor's certificate for a key")
        install.add_argument("--label", required=True)
        install.add_argument("--cert", required=True, help="PEM certificate issued by the trust anchor")
        demo = sub.add_parser("demo-certify", help="DEMO ONLY: certify a pending key with a local TA key")
        demo.add_argument("--label", required=True)
        demo.add_argument("--ta-cert", required=True)
        demo.add_argument("--ta-key", required=True)
        demo.add_argument("--days", type=int, default=365)
        sub.add_parser("activate-next", help="rotate: NEXT becomes CURRENT, CURRENT is retired")
        sub.add_parser("list", help="list keys and states")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        try:
            if options["action"] == "csr":
                key = keys.create_csr(label=options["label"], at=now)
                if options["out"]:
                    Path(options["out"]).write_text(key.csr_pem)
                self.stdout.write(key.csr_pem)
            elif options["action"] == "install":
                cert = load_pem_certificate(Path(options["cert"]).read_bytes())
                key = keys.install_certificate(
                    label=options["label"],
                    certificate_der_bytes=certificate_der(cert),
                    at=now,
                    actor="manage.py publisher_key install",
                )
                self.stdout.write(f"{key.label} is {key.state}")
            elif options["action"] == "demo-certify":
                pending = PublisherKey.objects.get(label=options["label"])
                ta = issuance.Issued(
                    load_pem_certificate(Path(options["ta_cert"]).read_bytes()),
                    issuance.load_private_key(Path(options["ta_key"]).read_bytes()),
                )
                csr = x509.load_pem_x509_csr(pending.csr_pem.encode())
                cert = issuance.certify_csr(csr, ca=ta, at=now, days=options["days"])
                key = keys.install_certificate(
                    label=pending.label,
                    certificate_der_bytes=certificate_der(cert),
                    at=now,
                    actor="manage.py publisher_key demo-certify",
                )
                self.stdout.write(f"{key.label} is {key.state}")
            elif options["action"] == "activate-next":
                key = keys.activate_next(at=now, actor="manage.py publisher_key activate-next")
                self.stdout.write(f"{key.label} is {key.state}")
            else:
                for key in PublisherKey.objects.order_by("created_at"):
                    kid = key_id(bytes(key.certificate)) if key.certificate else "-"
                    self.stdout.write(f"{key.label:<20} {key.state:<8} {kid} {key.key_path}")
        except (Rejected, SignerKeyError, ValueError, OSError, PublisherKey.DoesNotExist) as exc:
            raise CommandError(str(exc)) from exc
