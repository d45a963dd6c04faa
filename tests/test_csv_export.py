"""The one CSV writer (gateway.csv_export): cells a spreadsheet would evaluate as a formula get a
single quote before them (OWASP, CSV injection); every other cell is written as it is. Each
export has its own test too (tests/test_audit_admin.py, the audit events)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest

from gateway.csv_export import FORMULA_STARTS, neutralise, write_csv

pytestmark = pytest.mark.no_db  # no database of the test run: runs once, in the SQLite run

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://example.org","x")', '\'=HYPERLINK("http://example.org","x")'),
        ("+1+1", "'+1+1"),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("@SUM(1,1)", "'@SUM(1,1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("\x00=1", "'\x00=1"),
        (-1, "'-1"),  # OWASP's rule is the first character: a negative number becomes text
        ("XA", "XA"),
        ("Zoë", "Zoë"),
        ("a=1", "a=1"),  # only the first character counts
        (" =1", " =1"),
        ("'=1", "'=1"),  # already text for a spreadsheet: not quoted twice
        ("", ""),
        (None, ""),
        (42, "42"),
    ],
)
def test_neutralise(value, written):
    assert neutralise(value) == written


def test_every_formula_start_is_neutralised():
    assert set(FORMULA_STARTS) >= {"=", "+", "-", "@", "\t", "\r"}
    for start in FORMULA_STARTS:
        assert neutralise(start + "x") == "'" + start + "x"


def test_write_csv_quotes_and_neutralises_every_cell():
    out = io.StringIO()
    write_csv(out, ["a", "b"], [{"a": "=1", "b": 'x,"y"\nz'}, {"a": 7, "b": None}])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [["a", "b"], ["'=1", 'x,"y"\nz'], ["7", ""]]


def test_no_other_code_writes_csv():
    """Every CSV the gateway writes goes through write_csv: no other module makes a csv writer."""
    writers = re.compile(r"csv\.(writer|DictWriter)\(")
    found = [
        str(path.relative_to(ROOT))
        for folder in ("gateway", "countries", "publication", "trustlist", "oversight", "verifier", "bench", "scripts")
        for path in (ROOT / folder).rglob("*.py")
        if writers.search(path.read_text(encoding="utf-8"))
    ]
    assert found == ["gateway/csv_export.py"]
