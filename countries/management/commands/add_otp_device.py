"""Register a TOTP authenticator for a person; prints the otpauth URI and a terminal QR code."""

from __future__ import annotations

from typing import Any

import segno
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django_otp.plugins.otp_totp.models import TOTPDevice


class Command(BaseCommand):
    help = "Create a confirmed TOTP device for a user and show its QR code to scan with an authenticator app."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="authenticator")
        parser.add_argument("--png", help="also write the QR code to this PNG file")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r}")
        device = TOTPDevice.objects.create(user=user, name=options["name"], confirmed=True)
        qr = segno.make(device.config_url, error="m")
        self.stdout.write(device.config_url)
        qr.terminal(out=self.stdout, compact=True)
        if options["png"]:
            qr.save(options["png"], scale=6)
