"""Add a trusted issuer with the trust anchor's signature over its string (``ta_sign_issuer``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from countries.management.commands._common import read_bytes
from gateway.pki.errors import Rejected
from issuers import services
from issuers.models import IssuerType


class Command(BaseCommand):
    help = "Add a trusted issuer (HTTP or DID), signed off offline by the trust anchor (ta_sign_issuer)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--country", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--url", required=True, help="an https:// URL (HTTP) or a DID (DID)")
        parser.add_argument("--type", required=True, choices=IssuerType.values, dest="url_type")
        parser.add_argument("--signature", required=True, help="file with the base64 CMS from `ta_sign_issuer`")
        parser.add_argument("--domain", default="DCC")
        parser.add_argument("--thumbprint", default="", help="SHA-256 (hex) of the issuer's TLS certificate")
        parser.add_argument("--ssl-public-key", default="", help="file with the issuer's TLS public key")
        parser.add_argument("--key-storage-type", default="", help="e.g. JWKS")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ssl_public_key = (
                read_bytes(options["ssl_public_key"]).decode("ascii").strip() if options["ssl_public_key"] else ""
            )
            issuer = services.add_issuer(
                country=options["country"],
                name=options["name"],
                url=options["url"],
                url_type=options["url_type"],
                signature=read_bytes(options["signature"]).decode("ascii"),
                domain=options["domain"],
                thumbprint=options["thumbprint"],
                ssl_public_key=ssl_public_key,
                key_storage_type=options["key_storage_type"],
                actor="manage.py issuer_add",
                at=timezone.now(),
            )
        except Rejected as exc:
            raise CommandError(f"refused ({exc.reason}): {exc.detail}") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"issuer {issuer.uuid} added ({issuer.country}, {issuer.url_type} {issuer.url})")
