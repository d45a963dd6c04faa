"""What content rooms give publication: publication knows no content, a content room registers
what its entries are (its AppConfig.ready() calls :func:`register_trust_content`).

The trust-list content answers two questions, both inside the publisher's read snapshot:
- ``full()``: every trusted and revoked entry now (the full lists of a sequence);
- ``changed(thumbprints)``: the entries now of the certificates the outbox named, and of every
  certificate whose entry depends on them (a CSCA's DSCs), with the set of all those thumbprints
  (the delta of a sequence).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from publication.snapshot import Revoked, Trusted


class TrustContent(Protocol):
    def full(self) -> tuple[dict[str, Trusted], dict[str, Revoked]]: ...

    def changed(self, thumbprints: set[str]) -> tuple[dict[str, Trusted], dict[str, Revoked], set[str]]: ...


_trust_content: TrustContent | None = None


def register_trust_content(provider: TrustContent) -> None:
    global _trust_content  # filled once, by an AppConfig.ready()
    _trust_content = provider


def trust_content() -> TrustContent:
    if _trust_content is None:
        raise ImproperlyConfigured("no trust-list content is registered for publication (is trustlist installed?)")
    return _trust_content
