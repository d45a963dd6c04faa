"""The verifier's refusals form one vocabulary: every reason it gives is a member of an enum in
``verifier.reasons``, no text names two refusals, and no refusal is raised with a bare string."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from verifier.reasons import PartitionReason, PublicationReason, Reason, RuleReason

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

VERIFIER = Path(__file__).resolve().parents[2] / "verifier"
# The exceptions that carry a refusal: their first argument is its reason.
CARRIERS = {
    "HcertError",
    "VerificationError",
    "Base45Error",
    "QrError",
    "CertLogicError",
    "RuleError",
    "PartitionError",
}
VOCABULARIES = (Reason, PublicationReason, RuleReason, PartitionReason)
# The keyword by which the chain walkers pass on the reason of the chain they walk.
REASON_KEYWORD = "reason"


def test_no_text_names_two_refusals():
    vocabularies = [{reason.value for reason in vocabulary} for vocabulary in VOCABULARIES]
    assert sum(map(len, vocabularies)) == len(set().union(*vocabularies))


def test_every_publication_reason_is_documented():
    """docs/publication-format.md is enough to write a verifier: it names every refusal of ours."""
    guide = (VERIFIER.parent / "docs" / "publication-format.md").read_text()
    assert [reason.value for reason in PublicationReason if f"`{reason.value}`" not in guide] == []


def test_every_name_is_its_value():
    for vocabulary in VOCABULARIES:
        assert all(member.name == member.value for member in vocabulary)


def test_refusals_are_raised_with_members_not_strings():
    bare = []
    for path in sorted(VERIFIER.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", getattr(node.func, "attr", None))
            given = []
            if name in CARRIERS and node.args:
                given.append(node.args[0])
            given += [keyword.value for keyword in node.keywords if keyword.arg == REASON_KEYWORD]
            bare += [
                f"{path.name}:{node.lineno}"
                for value in given
                if isinstance(value, ast.Constant) and isinstance(value.value, str)
            ]
    assert not bare, f"reasons given as bare strings: {bare}"
