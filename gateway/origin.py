"""The gateway's public origin: the scheme, host and port people's browsers use to reach it.

Behind the TLS terminator the application cannot see them for itself (nginx listens where the
operator publishes it, gunicorn on a unix socket), yet Django's CSRF check compares a form's
``Origin`` header with them, and a redirect to HTTPS must name them. The operator states the
origin once (``GATEWAY_PUBLIC_ORIGIN``); gateway/settings.py derives the rest from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Origin:
    scheme: str
    hostname: str  # lower case, an IPv6 address without its brackets
    port: int | None  # None for the scheme's default port

    @property
    def host(self) -> str:
        """The host as Host headers and ALLOWED_HOSTS write it (an IPv6 address in brackets)."""
        return f"[{self.hostname}]" if ":" in self.hostname else self.hostname

    @property
    def netloc(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        # RFC 6454 §6.1: a default port is not written, which is how browsers send Origin.
        return f"{self.scheme}://{self.netloc}"


def parse_origin(text: str) -> Origin:
    """``scheme://host[:port]`` (a trailing slash is tolerated); ValueError for anything else,
    so that a mistyped setting stops the gateway at start rather than refusing every form."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if (
        scheme not in DEFAULT_PORTS
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(f"a public origin is scheme://host[:port] (http or https), not {text!r}")
    port = parts.port  # ValueError when not a number in 0-65535
    return Origin(scheme, parts.hostname.lower(), None if port in (None, DEFAULT_PORTS[scheme]) else port)
