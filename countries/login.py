"""The admin's login: a username, a password and a one-time password, checked together.

One answer for every wrong part. Django's admin and django-otp answered a wrong password with
"Please enter the correct username and password" and a wrong one-time password with "Invalid
token", which told whoever had guessed a password that it was right (and offered the person's
devices to choose from). Here the three are checked, then one message says that something was
wrong (OWASP Authentication Cheat Sheet, "Authentication and Error Messages"). The work does not
tell either: the password is hashed for an unknown username too (Django's ModelBackend does),
and when there is no account to check the one-time password against, a stand-in of the same
cost is checked (the same query, the same HMACs), all in one transaction, so that the
answer's time has the same shape whichever part was wrong (bench/login_timing.py measures it).

Every refused login is an audit event (action AUTHENTICATE; reasons LOGIN_FAILED, LOGIN_LOCKED,
LOGIN_THROTTLED; docs/audit.md) and, after a one-time password was refused, a failure for
django-axes, whose lock counts it like a wrong password (per username and address).
"""

from __future__ import annotations

import os
from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django import forms
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django_otp import device_classes, devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from countries import login_limits
from countries.identity import client_address
from gateway.audit.models import Action
from gateway.audit.services import record_rejection
from gateway.pki.errors import Reason

WRONG = "The username, password or one-time password is not right. Please try again."
LOCKED = (
    "Too many failed logins for this username from your address: logins are refused there "
    "for {minutes} minutes after the last failed one."
)
WAIT = "Too many failed logins for this username just now. Please try again in {seconds} seconds."
# The attribute of a request whose login must wait: the admin site answers it with 429 and Retry-After.
RETRY_AFTER_ATTRIBUTE = "gateway_login_retry_after"
# What a one-time password is checked against when there is no account to check it for.
_STAND_IN_KEY = os.urandom(20)
_STAND_IN_USER_ID = 0  # ids start at 1: the query has the shape of a person's and finds nothing


class LoginForm(OTPAdminAuthenticationForm):
    """Django's admin login with django-otp's one-time password, answering one way for all errors."""

    error_messages = {**OTPAdminAuthenticationForm.error_messages, "invalid_login": WRONG, "inactive": WRONG}

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not username or not password:
            return self.cleaned_data  # the fields say what is missing, whatever the account
        token = self.cleaned_data.get("otp_token") or ""
        request, at = self.request, timezone.now()
        address = client_address(request)
        seconds = login_limits.wait(username, address, at=at)
        if seconds:
            setattr(request, RETRY_AFTER_ATTRIBUTE, seconds)
            if login_limits.first_in_window(Reason.LOGIN_THROTTLED, username, address, at=at):
                _record(Reason.LOGIN_THROTTLED, username, address, at=at, details={"retry_after": seconds})
            raise forms.ValidationError(WAIT.format(seconds=seconds), code="throttled")
        locked_before = not AxesProxyHandler.is_allowed(request, {"username": username})
        with transaction.atomic():  # one commit, whichever part is wrong
            # django-axes' backend refuses a locked username and address before any hashing.
            user = authenticate(request, username=username, password=password)
            device = None if locked_before else _second_factor(user, token)
            failed = _failed_part(user, device)
            if failed and not locked_before:
                if user is not None:  # the password was right: django-axes has not heard of this failure
                    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
                login_limits.count_failure(username, at=at)
                _record(Reason.LOGIN_FAILED, username, address, at=at, details={"failed": failed})
        # django-axes marks the request once this username is locked at this address (this very
        # failure may be the one that locks it); its middleware then answers 429 (lockout_response).
        if locked_before or getattr(request, "axes_locked_out", False):
            if locked_before and login_limits.first_in_window(Reason.LOGIN_LOCKED, username, address, at=at):
                _record(Reason.LOGIN_LOCKED, username, address, at=at, details={})
            raise forms.ValidationError(LOCKED.format(minutes=_cool_off_minutes(request)), code="locked")
        if failed:
            raise forms.ValidationError(WRONG, code="invalid_login")
        user.otp_device = device  # django-otp's login hook verifies the session with it
        self.user_cache = user
        return self.cleaned_data


def _failed_part(user: Any, device: TOTPDevice | None) -> str:
    """Which part was wrong, for the audit log only (never for the answer); "" when none was."""
    if user is None:
        return "username or password"
    if device is None:
        return "one-time password"
    if not (user.is_active and user.is_staff):
        return "account"  # right credentials of an account that may not use the admin
    return ""


def _second_factor(user: Any, token: str) -> TOTPDevice | None:
    """The person's confirmed device that accepts ``token``, tried in turn (the login page offers
    no choice of device: offering one would say that the password was right). Device throttling
    is off (OTP_TOTP_THROTTLE_FACTOR = 0): the login's own limits count these failures, and a
    device throttle that doubles without end would let whoever has the password lock its owner
    out. Without a user, the same query and the same HMACs on a stand-in."""
    if user is None:
        _stand_in(token)
        return None
    for device in devices_for_user(user, confirmed=True, for_verify=True):
        if device.verify_token(token):
            return device
    return None


def _stand_in(token: str) -> None:
    # What a person's one device costs: the query devices_for_user makes (locking the rows it
    # finds), the HMACs of the token's time steps, and the write of the failure's count, here for
    # a user id no row has.
    models = list(device_classes())
    for model in models:
        list(model.objects.filter(user_id=_STAND_IN_USER_ID, confirmed=True).select_for_update())
    try:
        number = int(token)
    except ValueError:
        number = None  # a token that is not a number costs a device no HMAC either
    if number is not None:
        field = TOTPDevice._meta.get_field  # noqa: SLF001 - Django's public model metadata API
        totp = TOTP(_STAND_IN_KEY, field("step").default, field("t0").default, field("digits").default)
        totp.time = timezone.now().timestamp()
        totp.verify(number, field("tolerance").default)
    for model in models:
        model.objects.filter(user_id=_STAND_IN_USER_ID).update(name=F("name"))


def _record(reason: Reason, username: str, address: str | None, *, at: Any, details: dict[str, Any]) -> None:
    """The refusal's audit event. The username only when it names an account: what was typed
    there may be a password by mistake, and the log keeps everything for ever."""
    account = get_user_model().objects.filter(**{get_user_model().USERNAME_FIELD: username}).exists()
    record_rejection(
        action=Action.AUTHENTICATE,
        at=at,
        reason=reason,
        details={"username": username if account else "", "address": address or "", **details},
    )


def _cool_off_minutes(request: HttpRequest) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds() // 60) if cool_off else 0


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """django-axes' answer once a username is locked at the client's address
    (``AXES_LOCKOUT_CALLABLE``): the login page with the form's message, as 429 Too Many Requests
    with Retry-After (RFC 6585 §4), the lock's cool-off."""
    if original_response is None:  # a login other than the admin's form: the message alone
        original_response = HttpResponse(LOCKED.format(minutes=_cool_off_minutes(request)))
    response = original_response
    response.status_code = 429
    cool_off = get_cool_off(request)
    if cool_off:
        response["Retry-After"] = str(int(cool_off.total_seconds()))
    return response
