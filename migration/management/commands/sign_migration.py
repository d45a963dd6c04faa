"""Re-sign a CMS migration package offline, where the new UPLOAD key is kept: for each entry of
the JSON ``GET /cms-migration`` lists (or the admin's package of one UPLOAD certificate), a new
attached CMS over exactly the payload the old one carries, signed with the new UPLOAD key. The
output is the same JSON with each ``cms`` replaced, for ``POST /cms-migration`` (one entry per
request) or the admin's upload. Touches no database; no key leaves."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from countries.management.commands._common import read_bytes
from gateway.pki import cms, issuance
from gateway.pki.certs import load_pem_certificate
from gateway.pki.errors import Rejected


class Command(BaseCommand):
    help = "Re-sign every entry of a CMS migration package with a new UPLOAD key (offline)."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--package", required=True, help="the package (JSON of GET /cms-migration)")
        parser.add_argument("--signer", required=True, help="the new UPLOAD certificate (PEM)")
        parser.add_argument("--key", required=True, help="its private key (PEM)")
        parser.add_argument("--out", help="write here instead of standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            signer = load_pem_certificate(read_bytes(options["signer"]))
            key = issuance.load_private_key(read_bytes(options["key"]))
        except (Rejected, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        try:
            entries = json.loads(read_bytes(options["package"]))
        except ValueError as exc:
            raise CommandError(f"{options['package']} is not JSON: {exc}") from exc
        if not isinstance(entries, list):
            raise CommandError("a package is the JSON array GET /cms-migration returns")
        resigned = []
        for position, entry in enumerate(entries, start=1):
            if not isinstance(entry, dict) or not isinstance(entry.get("cms"), str):
                raise CommandError(f"entry {position} has no cms")
            try:
                # The old CMS is read as the gateway reads one (structure and signature): its
                # payload, byte for byte, is what the new key signs.
                payload = cms.parse_attached(cms.decode_base64_body("".join(entry["cms"].split()))).payload
            except Rejected as exc:
                raise CommandError(f"entry {position}: {exc.reason}: {exc.detail}") from exc
            new = cms.sign(payload, signer, key, detached=False)
            resigned.append({**entry, "cms": base64.b64encode(new).decode("ascii")})
        text = json.dumps(resigned, indent=1)
        if options["out"]:
            Path(options["out"]).write_text(text + "\n", encoding="utf-8")
        else:
            self.stdout.write(text)
