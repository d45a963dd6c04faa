"""A rule's Logic, checked as the EU business-rule tooling checks it before upload: it is CertLogic
(``verifier.certlogic_form``, the form verifiers evaluate), it reads only ``payload`` and
``external`` (a verifier's data context holds nothing else), and its AffectedFields are exactly
the payload fields it reads (the list a national app shows and uses to pick rules)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gateway.pki.errors import Reason, Rejected
from verifier.certlogic_form import data_accesses, issues

PAYLOAD = "payload."
EXTERNAL = "external."


def check_logic(logic: Any, affected_fields: Iterable[str]) -> None:
    problems = issues(logic)
    if problems:
        raise Rejected(Reason.RULE_LOGIC_INVALID, f"Logic is not CertLogic: {'; '.join(problems[:3])}")
    paths = data_accesses(logic)
    elsewhere = sorted(path for path in paths if not path.startswith((PAYLOAD, EXTERNAL)))
    if elsewhere:
        raise Rejected(
            Reason.RULE_LOGIC_INVALID, f"Logic reads {', '.join(elsewhere[:3])}: only payload.* and external.* exist"
        )
    read = {path.removeprefix(PAYLOAD) for path in paths if path.startswith(PAYLOAD)}
    declared = set(affected_fields)
    if read != declared:
        missing, extra = sorted(read - declared), sorted(declared - read)
        raise Rejected(
            Reason.RULE_AFFECTED_FIELDS,
            f"AffectedFields must be the fields Logic reads: missing {missing[:5]}, not read {extra[:5]}",
        )
