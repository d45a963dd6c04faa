"""What content rooms give publication: publication knows no content, a content room registers
what its content is (its AppConfig.ready() calls a ``register_*`` function below).

Two kinds of content:

- **The trust content** (one, ``trustlist.content``): the entries of the full trust and revocation
  lists and of the deltas that carry their changes certificate by certificate. It answers, inside
  the publisher's read snapshot, ``full()`` (every trusted and revoked entry now: the full lists
  of a sequence) and ``changed(thumbprints)`` (the entries now of the certificates the outbox
  named, and of every certificate whose entry depends on them, with the set of all those
  thumbprints: the delta of a sequence).
- **Named content** (any number: rules, value sets, revocation batches): each is published as
  one signed file per version, ``sequences/<S>/<name>.jws``, that the index binds by name, hash,
  length and the sequence ``S`` that wrote it (docs/publication-format.md, "Named artifacts").
  It answers ``full()``, its JSON value now; *what changed since a sequence* is the outbox's
  answer: the value is read again when an outbox change of one of its ``change_kinds`` is
  published, and a new version (a new file, a new descriptor in the index and in that sequence's
  delta) is written only when the value differs from the one the index names.
- **Partitioned content** (revoked DCC hashes): named content too large to read whole at every
  change. It is published in *groups*, each as immutable part files at content-addressed paths
  (``parts/<name>/<sha256>``); its named artifact is the manifest of every group and its parts
  (``publication.partitions``). An outbox change of its kinds names in ``Change.scope`` the group
  it touched, and the publisher asks for those groups only.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from django.core.exceptions import ImproperlyConfigured

from verifier.descriptors import ARTIFACT_NAME

if TYPE_CHECKING:
    from publication.snapshot import Revoked, Trusted

# Names the index and the publish folder already use for the trust content.
RESERVED_NAMES = frozenset({"index", "delta", "span", "trustlist", "revocations", "trust-list", "revocation-list"})


class TrustContent(Protocol):
    def full(self) -> tuple[dict[str, Trusted], dict[str, Revoked]]: ...

    def changed(self, thumbprints: set[str]) -> tuple[dict[str, Trusted], dict[str, Revoked], set[str]]: ...


class NamedContent(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def change_kinds(self) -> frozenset[str]:
        """The outbox ``Change.kind`` values that change this content (and no other)."""
        ...

    def full(self) -> Any:
        """This content now, as a JSON value (read inside the publisher's snapshot)."""
        ...


@runtime_checkable
class PartitionedContent(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def change_kinds(self) -> frozenset[str]:
        """The outbox ``Change.kind`` values that change this content; their ``scope`` names the
        group changed (empty: every group)."""
        ...

    @property
    def format(self) -> str:
        """The format of the part files (the manifest says it, for verifiers)."""
        ...

    def groups(self, scopes: Collection[str] | None) -> Iterator[tuple[str, dict[str, Any], list[bytes]]]:
        """Each group of ``scopes`` now (None: every group there is; read inside the publisher's
        snapshot) as its scope, the JSON members that describe it in the manifest, and its part
        files in order: none for a group that is now empty."""
        ...


_trust_content: TrustContent | None = None
_named: dict[str, NamedContent | PartitionedContent] = {}


def register_trust_content(provider: TrustContent) -> None:
    global _trust_content  # filled once, by an AppConfig.ready()
    _trust_content = provider


def trust_content() -> TrustContent:
    if _trust_content is None:
        raise ImproperlyConfigured("no trust-list content is registered for publication (is trustlist installed?)")
    return _trust_content


def register_named_content(provider: NamedContent | PartitionedContent) -> None:
    """Publish ``provider`` as a named artifact from the next sequence on (for partitioned
    content, the manifest of its groups: ``publication.partitions``)."""
    name = provider.name
    if not ARTIFACT_NAME.fullmatch(name) or name in RESERVED_NAMES:
        raise ImproperlyConfigured(f"{name!r} cannot name published content (a lowercase word, not {RESERVED_NAMES})")
    registered = _named.get(name)
    if registered is not None and registered is not provider:
        raise ImproperlyConfigured(f"two providers of published content {name!r}")
    taken = {kind for other in _named.values() if other is not registered for kind in other.change_kinds}
    if taken & provider.change_kinds:
        raise ImproperlyConfigured(f"outbox kinds {sorted(taken & provider.change_kinds)} belong to other content")
    _named[name] = provider


def unregister_named_content(name: str) -> None:
    """For tests, and for a room being removed: its artifact leaves the next index."""
    _named.pop(name, None)


def named_contents() -> list[NamedContent | PartitionedContent]:
    """The registered named content, by name."""
    return [_named[name] for name in sorted(_named)]


def named_change_kinds() -> frozenset[str]:
    """Outbox kinds of named content: they change no entry of the trust content."""
    return frozenset(kind for provider in _named.values() for kind in provider.change_kinds)
