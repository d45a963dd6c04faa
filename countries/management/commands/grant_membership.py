"""Give a person a role: country admin or viewer of a country, operator, or auditor."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from countries import services
from countries.codes import is_valid_country
from countries.models import Membership, MembershipRole
from countries.permissions import OPERATORS
from gateway.audit.roles import AUDITORS, ensure_auditor_group


class Command(BaseCommand):
    help = "Grant a person a role: --country XA --role ADMIN|VIEWER, or --operator, or --auditor."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--country")
        parser.add_argument("--role", choices=MembershipRole.values, default=MembershipRole.ADMIN)
        parser.add_argument("--operator", action="store_true")
        parser.add_argument("--auditor", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"no user {options['username']!r} (create it with add_person or createsuperuser)")
        if not user.is_staff:
            user.is_staff = True  # the admin is where people work
            user.save(update_fields=["is_staff"])
        if options["operator"]:
            user.groups.add(Group.objects.get_or_create(name=OPERATORS)[0])
            self.stdout.write(f"{user} is an operator")
        if options["auditor"]:
            ensure_auditor_group()
            user.groups.add(Group.objects.get(name=AUDITORS))
            self.stdout.write(f"{user} is an auditor")
        if options["country"]:
            country = options["country"].upper()
            if not is_valid_country(country):
                raise CommandError(f"unknown country {country}")
            membership = Membership.objects.filter(user=user, country=country).first() or Membership(
                user=user, country=country
            )
            membership.role = options["role"]
            services.save_membership(membership, actor="manage.py grant_membership", at=timezone.now())
            self.stdout.write(f"{user} is {membership.role} of {country}")
