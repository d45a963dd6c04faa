"""How often a username may fail to log in to the admin from everywhere together (README, "People").

django-axes locks a username at one address after ``GATEWAY_LOGIN_FAILURE_LIMIT`` failures: per
username *and* address, since a lock per username alone would let anyone lock anyone out. That
leaves an attacker with many addresses that many guesses at each. Here the failures at a
username are counted across all addresses in fixed windows of ``GATEWAY_LOGIN_ACCOUNT_WINDOW``
seconds: after ``GATEWAY_LOGIN_ACCOUNT_LIMIT`` of them, further attempts are refused unchecked
until the window ends (a wait, announced with Retry-After), not locked: once the attacker
stops, the person gets in again within the window. An address from which the username logged in
lately (django-axes' access log, ``GATEWAY_LOGIN_KNOWN_ADDRESS_DAYS``) is not held back, so an
attacker elsewhere slows down only someone at a new address. OWASP's Authentication Cheat Sheet
("Account Lockout") weighs the same trade: a lock that attackers can trigger is a denial of service.

The counters live in Django's cache (Redis in production, shared by every worker; the process's
memory in the embedded mode), one per username and window, expiring by themselves; usernames are
hashed into the keys (any text may be typed there, a password by mistake among it). Should the
cache fail, no one waits (the lock, in the database, still holds): a Redis outage must not keep
every person out of the admin.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from dataclasses import dataclass

from axes.models import AccessLog
from django.conf import settings
from django.core.cache import cache

PREFIX = "login-window"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    index: int  # windows since the epoch
    seconds_left: int  # until the next one starts (at least 1)


def window(at: dt.datetime) -> Window:
    length = settings.GATEWAY_LOGIN_ACCOUNT_WINDOW
    elapsed = int(at.timestamp())
    return Window(elapsed // length, length - elapsed % length)


def wait(username: str, address: str | None, *, at: dt.datetime) -> int:
    """Seconds until an attempt at ``username`` from ``address`` is checked again; 0: check it now."""
    current = window(at)
    try:
        failures = cache.get(_key("failures", username, current.index), 0)
    except Exception:  # the cache is Redis, and it is down
        logger.warning("could not read the login failures of a username; not holding it back", exc_info=True)
        return 0
    if failures < settings.GATEWAY_LOGIN_ACCOUNT_LIMIT:
        return 0
    if _known(username, address, at=at):
        return 0
    return current.seconds_left


def count_failure(username: str, *, at: dt.datetime) -> None:
    key = _key("failures", username, window(at).index)
    timeout = 2 * settings.GATEWAY_LOGIN_ACCOUNT_WINDOW  # the key outlives its window
    try:
        # add() then incr(): atomic in Redis and in the local-memory cache.
        cache.add(key, 0, timeout=timeout)
        try:
            cache.incr(key)
        except ValueError:  # expired between the two calls: this failure starts the count again
            cache.add(key, 1, timeout=timeout)
    except Exception:  # the cache is Redis, and it is down
        logger.warning("could not count a login failure of a username", exc_info=True)


def first_in_window(kind: str, username: str, address: str | None, *, at: dt.datetime) -> bool:
    """True the first time in this window that ``kind`` happens to ``username`` at ``address``:
    refusals that cost the attacker nothing (a lock, a wait) are recorded once per window, so a
    flood of them cannot grow the audit log or queue on its lock (docs/audit.md)."""
    key = _key(kind, f"{username}\0{address or ''}", window(at).index)
    try:
        return cache.add(key, True, timeout=2 * settings.GATEWAY_LOGIN_ACCOUNT_WINDOW)
    except Exception:  # the cache is down: better recorded twice than not at all
        logger.warning("could not tell whether a login refusal was recorded in this window", exc_info=True)
        return True


def _known(username: str, address: str | None, *, at: dt.datetime) -> bool:
    if address is None:
        return False
    since = at - dt.timedelta(days=settings.GATEWAY_LOGIN_KNOWN_ADDRESS_DAYS)
    return AccessLog.objects.filter(username=username, ip_address=address, attempt_time__gte=since).exists()


def _key(kind: str, text: str, index: int) -> str:
    return f"{PREFIX}:{kind}:{index}:{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()}"
