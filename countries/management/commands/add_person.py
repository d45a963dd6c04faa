"""Create a person's admin account without a terminal: a staff user with a strong first password."""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

# The name of the variable read below (from the environment rather than a command-line argument,
# which other users of the machine can see in `ps`).
PASSWORD_VARIABLE = "GATEWAY_PERSON_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create a person who works in the admin (no role yet: grant one with grant_membership). The first "
        f"password comes from ${PASSWORD_VARIABLE}, or is generated and printed once; the person changes "
        "it in the admin after the first login. Add a one-time-password device with add_otp_device."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--email", default="")
        parser.add_argument("--name", default="", help="full name, shown in the admin and the audit log")

    def handle(self, *args: Any, **options: Any) -> None:
        model = get_user_model()
        username = options["username"]
        if model.objects.filter(username=username).exists():
            raise CommandError(f"there is already a person called {username!r}")
        given = os.environ.get("GATEWAY_PERSON_PASSWORD")
        password = given or secrets.token_urlsafe(18)
        first, _, last = options["name"].partition(" ")
        user = model(username=username, email=options["email"], first_name=first, last_name=last, is_staff=True)
        try:
            validate_password(password, user)
        except ValidationError as exc:
            raise CommandError(f"${PASSWORD_VARIABLE} is too weak: {' '.join(exc.messages)}") from exc
        user.set_password(password)
        user.save()
        if given:
            self.stdout.write(f"created {username} with the password from ${PASSWORD_VARIABLE}")
        else:
            self.stdout.write(f"created {username}; first password (shown once): {password}")
