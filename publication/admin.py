"""The published sequences in the admin: operators read them, nobody changes them."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from countries.permissions import is_operator
from publication.models import Publication


class OperatorsOnly(admin.ModelAdmin):
    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_operator(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_operator(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Publication)
class PublicationAdmin(OperatorsOnly):
    list_display = ("id", "issued_at", "expires_at", "trusted_count", "revoked_count", "publisher_kid")
