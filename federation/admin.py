"""Peers in the admin: operators configure them (the trust anchor's signature pasted from the
offline ``ta_sign_peer``), change their interval, sync one now or remove one, all through
``federation.services``; operators and auditors read each peer's status, the entries kept aside
and the syncs that changed something. Nothing here edits an imported entry: they are read-only
everywhere (the trust list's admin shows them with their source)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from countries.admin_base import StaffAdmin
from countries.permissions import is_auditor, is_operator
from federation import services
from federation.models import Conflict, Peer, PeerSync
from gateway.pki.errors import Rejected
from verifier.reasons import VerificationError

STATUS_FIELDS = (
    "last_attempt_at",
    "last_success_at",
    "last_sequence",
    "last_issued_at",
    "last_reason",
    "last_error",
    "failures",
    "next_attempt_at",
    "entries",
    "conflicts",
    "created_at",
)


def _reader(user: Any) -> bool:
    return is_operator(user) or is_auditor(user)


class PeerAddForm(forms.ModelForm):
    """Adding is one service call, made while the form is checked, so that a refusal shows on
    the form with its named reason (and is audited by the service) and nothing is stored."""

    class Meta:
        model = Peer
        fields = ("gateway_id", "name", "kind", "endpoint", "trust_anchor", "signature", "interval_seconds")
        widgets = {"trust_anchor": forms.Textarea(attrs={"rows": 6}), "signature": forms.Textarea(attrs={"rows": 4})}

    actor = ""
    endpoint = forms.URLField(max_length=500, assume_scheme="https")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        try:
            self.instance = services.add_peer(
                gateway_id=data["gateway_id"],
                name=data.get("name") or "",
                kind=data["kind"],
                endpoint=data["endpoint"],
                trust_anchor_pem=data["trust_anchor"],
                signature=data["signature"],
                interval_seconds=data.get("interval_seconds"),
                actor=self.actor,
                at=timezone.now(),
            )
        except Rejected as exc:
            raise forms.ValidationError(f"{exc.reason}: {exc.detail}") from None
        return data

    def validate_unique(self) -> None:
        """The service decides (PEER_EXISTS), after its own checks."""


@admin.register(Peer)
class PeerAdmin(StaffAdmin):
    list_display = (
        "gateway_id",
        "name",
        "kind",
        "interval_seconds",
        "last_success_at",
        "last_sequence",
        "entries",
        "conflicts",
        "failures",
        "last_reason",
    )
    actions = ("sync_now",)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:  # a class per request: the actor is this request's user
            return type("PeerAddFormFor", (PeerAddForm,), {"actor": request.user.get_username()})
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("gateway_id", "name", "kind", "endpoint", "trust_anchor", "signature", *STATUS_FIELDS)

    def save_model(self, request: HttpRequest, obj: Peer, form: Any, change: bool) -> None:
        if change:  # only the interval is editable
            services.set_interval(obj, obj.interval_seconds, actor=request.user.get_username(), at=timezone.now())
        # Added: the form's clean() called services.add_peer already.

    def delete_model(self, request: HttpRequest, obj: Peer) -> None:
        services.remove_peer(obj, actor=request.user.get_username(), at=timezone.now())

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Peer]) -> None:
        for peer in queryset:
            self.delete_model(request, peer)

    @admin.action(description="Sync the selected peers now")
    def sync_now(self, request: HttpRequest, queryset: QuerySet[Peer]) -> None:
        for peer in queryset:
            try:
                outcome = services.sync_peer(peer.pk, now=timezone.now(), actor=request.user.get_username())
            except (Rejected, VerificationError) as exc:
                self.message_user(request, f"{peer.gateway_id}: refused: {exc.reason}: {exc.detail}", messages.ERROR)
                continue
            text = "unchanged" if outcome is None else f"{outcome.added} added, {outcome.removed} removed"
            self.message_user(request, f"{peer.gateway_id}: {text}", messages.SUCCESS)

    def can_read(self, user: Any) -> bool:
        return _reader(user)

    def can_write(self, user: Any) -> bool:
        return is_operator(user)


class ReadOnly(StaffAdmin):
    def can_read(self, user: Any) -> bool:
        return _reader(user)


@admin.register(Conflict)
class ConflictAdmin(ReadOnly):
    list_display = ("peer", "country", "kid", "thumbprint", "reason", "first_seen", "last_seen")
    list_filter = ("reason", "peer")


@admin.register(PeerSync)
class PeerSyncAdmin(ReadOnly):
    list_display = ("peer", "at", "sequence", "added", "removed", "revoked", "kept_aside")
    list_filter = ("peer",)
    exclude = ("index",)
