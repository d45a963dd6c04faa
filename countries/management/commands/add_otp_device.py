"""Register a TOTP authenticator for a person; prints the otpauth URI and a terminal QR code."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import segno
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.plugins.otp_totp.models import TOTPDevice

from countries.management.commands._common import write_private


class Command(BaseCommand):
    help = (
        "Create a confirmed TOTP device for a user and show its QR code (in the terminal, and with --png "
        "in a file readable by its owner only) to scan with an authenticator app."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="authenticator")
        parser.add_argument("--png", help="also write the QR code to this PNG file (it holds the secret)")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r} (create one with add_person or createsuperuser)")
        device = TOTPDevice.objects.create(user=user, name=options["name"], confirmed=True)
        qr = segno.make(device.config_url, error="m")
        self.stdout.write(device.config_url)
        # segno writes the code in pieces; the command's output wrapper would end each piece with
        # a newline, so render whole and write it once, as it is.
        rendered = io.StringIO()
        qr.terminal(out=rendered, compact=True)
        self.stdout.write(rendered.getvalue(), ending="")
        if options["png"]:
            path = Path(options["png"])
            buffer = io.BytesIO()
            qr.save(buffer, kind="png", scale=6)
            write_private(path, buffer.getvalue(), replace=True)  # it holds the TOTP secret, like a key
            self.stdout.write(f"QR code written to {path} (mode 0600; delete it once scanned)")
