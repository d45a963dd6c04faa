"""The published sequences in the admin: operators read them, nobody changes them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from countries.admin_base import StaffAdmin
from countries.permissions import is_operator
from publication.models import Publication


@admin.register(Publication)
class PublicationAdmin(StaffAdmin):
    def can_read(self, user: Any) -> bool:
        return is_operator(user)

    list_display = ("id", "issued_at", "expires_at", "trusted_count", "revoked_count", "publisher_kid")
