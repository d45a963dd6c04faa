"""What a relaxed check lets through: a named finding instead of a refusal.

A deployment may relax a check (a setting, or the ``dgcg`` profile: docs/policy.md) to take what
real national backends send. A relaxed check still runs; when it fails, it records a
:class:`Finding` with the reason it would have refused with, so that what was let through is
stored with the certificate and shown to its country's admins, operators and auditors, never
accepted silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from gateway.pki.errors import Reason, Rejected


@dataclass(frozen=True)
class Finding:
    reason: Reason
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"reason": str(self.reason), "detail": self.detail}

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"


@dataclass
class Findings:
    """Collects the findings of one judgement (a certificate, a CMS message)."""

    found: list[Finding] = field(default_factory=list)

    def fail(self, reason: Reason, detail: str, *, enforced: bool) -> None:
        """A check failed: refuse when it is enforced, else record what it let through."""
        if enforced:
            raise Rejected(reason, detail)
        self.found.append(Finding(reason, detail))

    def as_tuple(self) -> tuple[Finding, ...]:
        return tuple(self.found)


def findings_json(findings: Iterable[Finding]) -> list[dict[str, str]]:
    """The stored form (a JSON list), as certificates keep them and audit events record them."""
    return [finding.as_json() for finding in findings]


def findings_detail(findings: Iterable[Finding]) -> dict[str, list[dict[str, str]]]:
    """An audit event's detail naming what relaxed checks let through; nothing when none did."""
    stored = findings_json(findings)
    return {"findings": stored} if stored else {}
