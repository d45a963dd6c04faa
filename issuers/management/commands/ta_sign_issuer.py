"""Sign a trusted issuer's string with the trust anchor, offline (no database): the issuer
counterpart of ``ta_sign`` (docs/issuers.md, "The ceremony")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from countries.management.commands._offline_signing import OfflineSigningCommand
from issuers import fields, signatures
from issuers.models import IssuerType


class Command(OfflineSigningCommand):
    help = (
        "Print the base64 detached CMS by the trust anchor over an issuer's string, "
        "country;name;url;type; (dgcg) or country;name;url;type (tng) (offline)."
    )
    signer_option, signer_help = "ta-cert", "trust anchor certificate (PEM)"
    key_option, key_help = "ta-key", "trust anchor private key (PEM)"
    detached = True

    def add_subject_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--country", required=True, help="ISO 3166-1 alpha-2 or a virtual country, as stored")
        parser.add_argument("--name", required=True, help="the issuer's name, exactly as it will be stored")
        parser.add_argument("--url", required=True, help="an https:// URL (HTTP) or a DID (DID)")
        parser.add_argument("--type", required=True, choices=IssuerType.values, dest="url_type")
        parser.add_argument(
            "--format",
            choices=signatures.FORMS,
            default=None,
            help="which string to sign: dgcg (trailing ';') or tng; default GATEWAY_ISSUER_SIGNATURE_FORMAT",
        )
        parser.add_argument("--print-string", action="store_true", help="also print the signed string (stderr)")

    def payload(self, options: dict[str, Any]) -> bytes:
        """The string the gateway will verify, once its fields pass the gateway's checks (a
        ceremony never signs what the gateway would refuse)."""
        country, name, url, url_type = options["country"], options["name"], options["url"], options["url_type"]
        fields.check_signed_fields(country, name, url, url_type)
        data = signatures.signed_string(country, name, url, url_type, options["format"] or signatures.configured_form())
        if options["print_string"]:
            self.stderr.write(data.decode("utf-8"))
        return data
