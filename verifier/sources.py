"""Where a verifier's trusted DSCs come from: a synced state, a saved trust list, or DSC files
(tests). Each gives a ``TrustSource``: the trust store with its expiry and a description that
every result shows, the revoked DSCs known, the business rules and value sets (a synced state's
named artifacts ``rules`` and ``valuesets``; none from a trust list or DSC files, see
``with_rules``), the revoked DCC hashes (a synced state's ``dcc-revocations``), and a summary
for ``python -m verifier inspect``.

A synced state is only as trustworthy as the folder that holds it (its index was verified when
it was synced, and is read back here for its expiry); a saved trust list is verified against the
pinned trust anchors every time it is loaded.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from cryptography import x509

from verifier.artifacts import typed_payload
from verifier.encoding import b64url_decode, format_time, parse_time
from verifier.jws import verify_jws
from verifier.reasons import PublicationReason, VerificationError
from verifier.revocation_parts import REVOCATION_ARTIFACT, load_revoked_hashes
from verifier.revoked_hashes import RevokedHashes
from verifier.rule_sources import rule_set_from_artifacts
from verifier.rules import RuleSet
from verifier.sync import STATE_FILE, SyncState
from verifier.trust import RevocationSet, TrustStore

# A saved trust list carries its issue time, not an expiry: it is current for as long as an
# index stays valid by default (GATEWAY_PUBLISH_VALIDITY, docs/publication-format.md).
DEFAULT_MAX_AGE = dt.timedelta(hours=48)


class SourceError(Exception):
    """A trust source that cannot be used: ``reason`` names why, ``hint`` what to do."""

    def __init__(self, reason: str, detail: str, hint: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.hint = reason, detail, hint


@dataclass
class TrustSource:
    store: TrustStore
    revocations: RevocationSet
    description: str
    sequence: int | None = None
    issued_at: dt.datetime | None = None
    expires_at: dt.datetime | None = None
    entries: Sequence[Mapping[str, Any]] = ()
    rules: RuleSet = field(default_factory=RuleSet)  # business rules and value sets
    revoked_hashes: RevokedHashes | None = None  # revoked DCCs (a synced state's dcc-revocations)

    @property
    def value_sets(self) -> Mapping[str, list[str]]:
        return self.rules.value_sets

    def with_rules(self, rules: RuleSet) -> TrustSource:
        """The same trust with other rules and value sets (e.g. read from files)."""
        return replace(self, rules=rules)

    def summary(self, now: dt.datetime) -> dict[str, Any]:
        """What ``inspect`` prints: where from, sequence, age, expiry, DSCs by country, counts."""
        by_country = Counter(str(entry.get("country", "?")) for entry in self.entries if entry.get("type") == "DSC")
        return {
            "source": self.description,
            "sequence": self.sequence,
            "issuedAt": None if self.issued_at is None else format_time(self.issued_at),
            "age": None if self.issued_at is None else str(now - self.issued_at).split(".")[0],
            "expiresAt": None if self.expires_at is None else format_time(self.expires_at),
            "expired": self.expires_at is not None and now > self.expires_at,
            "dscs": len(self.store),
            "revoked": len(self.revocations.thumbprints),
            "countries": dict(sorted(by_country.items())),
            "skipped": list(self.store.skipped),
            "rules": self.rules.countries(),
            "valueSets": len(self.rules.value_sets),
            "rulesSkipped": [issue.to_dict() for issue in self.rules.issues],
            "revokedDccHashes": None if self.revoked_hashes is None else len(self.revoked_hashes),
        }


def from_state(folder: Path) -> TrustSource:
    """The state ``python -m verifier sync`` keeps in ``folder``."""
    if not (folder / STATE_FILE).exists():
        raise SourceError(
            "NO_STATE", f"no synced trust list in {folder}", "run `dcc-verifier sync --url ... --trust-anchor ...`"
        )
    try:
        state = SyncState.load(folder)
        issued_at, expires_at = _index_times(state.index)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise SourceError(
            "STATE_UNREADABLE",
            f"{folder / STATE_FILE} cannot be read ({type(exc).__name__})",
            "sync again into an empty folder (delete the damaged state first)",
        ) from None
    trusted = list(state.trusted.values())
    revoked = list(state.revoked.values())
    description = f"synced state {folder}, sequence {state.sequence}"
    manifest = state.artifacts.get(REVOCATION_ARTIFACT, {}).get("content")
    try:
        revoked_hashes = None if manifest is None else load_revoked_hashes(folder, manifest)
    except VerificationError as exc:
        raise SourceError(
            exc.reason, f"the revoked DCCs in {folder}: {exc.detail}", "sync again into an empty folder"
        ) from None
    store = TrustStore.from_trust_list_payload({"sequence": state.sequence, "entries": trusted})
    store.expires_at, store.description = expires_at.timestamp(), description
    return TrustSource(
        store,
        RevocationSet.from_revocation_list_payload({"entries": revoked}),
        description,
        state.sequence,
        issued_at,
        expires_at,
        trusted,
        rule_set_from_artifacts(state.artifacts),
        revoked_hashes,
    )


def from_trust_list(
    data: bytes,
    anchors: Sequence[x509.Certificate],
    now: dt.datetime,
    *,
    label: str,
    max_age: dt.timedelta = DEFAULT_MAX_AGE,
) -> TrustSource:
    """A saved full trust list (``sequences/<F>/trustlist.jws``), verified against the pinned
    anchors (its header carries the publisher certificate), current for ``max_age`` after its issue."""
    try:
        _, payload_bytes, _ = verify_jws(data, anchors, now)
        payload = typed_payload(payload_bytes, "trust-list")
        sequence = int(payload["sequence"])
        issued_at = parse_time(payload["issuedAt"])
        entries = list(payload["entries"])
    except VerificationError as exc:
        raise SourceError(exc.reason, f"{label}: {exc.detail}", "use a trust list the gateway published") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise SourceError(
            PublicationReason.MALFORMED_PAYLOAD, f"{label}: {exc}", "use a trust list the gateway published"
        ) from None
    expires_at = issued_at + max_age
    description = f"trust list {label}, sequence {sequence}"
    store = TrustStore.from_trust_list_payload({"sequence": sequence, "entries": entries})
    store.expires_at, store.description = expires_at.timestamp(), description
    return TrustSource(store, RevocationSet(), description, sequence, issued_at, expires_at, entries)


def from_dsc_files(certificates: Iterable[tuple[str, bytes]]) -> TrustSource:
    """DSCs given directly (PEM or DER), for tests: no trust list vouches for them, and every
    result says so."""
    labels: list[str] = []
    store = TrustStore()
    entries: list[dict[str, Any]] = []
    for label, data in certificates:
        try:
            certificate = (
                x509.load_pem_x509_certificate(data)
                if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_certificate(data)
            )
        except ValueError:
            raise SourceError("DSC_UNREADABLE", f"{label} is not a certificate", "give a DSC in PEM or DER") from None
        dsc = store.add_certificate(certificate)
        dsc.verification_key()  # parses the certificate: its subject's country
        entries.append({"type": "DSC", "country": dsc.country or "?"})
        labels.append(label)
    store.description = f"TEST ONLY: DSC file(s) {', '.join(labels)}, not a trust list"
    return TrustSource(store, RevocationSet(), store.description, entries=entries)


def _index_times(index: bytes) -> tuple[dt.datetime, dt.datetime]:
    payload = json.loads(b64url_decode(index.split(b".")[1]))
    return parse_time(payload["issuedAt"]), parse_time(payload["expiresAt"])
