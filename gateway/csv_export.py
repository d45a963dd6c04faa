"""CSV that a spreadsheet opens as data, never as formulas: the one CSV writer of the gateway
(the admin's exports, and any command that writes CSV, use it).

Spreadsheets (Excel, LibreOffice Calc, Google Sheets) evaluate a cell whose text starts with
``=``, ``+``, ``-`` or ``@`` as a formula, and treat a leading tab or carriage return alike; a
client certificate whose subject holds ``C==HYPERLINK(...)``, or a username, would run in the
auditor's spreadsheet (CSV injection, OWASP). OWASP's rule: prefix such a cell with a single
quote, which spreadsheets read as "text follows" and do not show. OWASP ASVS 5.0 (V1.2.10) adds
NUL to the list; so do we. The rule looks at the first character only, so a negative number
is exported as text (``'-1``): none of our exports has one (leaf indexes count from 0), and a
cell that merely looks like a number (``-2+3+cmd|...``) is how such payloads begin.
Quoting and escaping of separators, quotes and line breaks are the csv module's (RFC 4180 §2).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\0")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def neutralise(value: object) -> str:
    """The cell's text, with a single quote before it when a spreadsheet would read a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(stream: _Writable, fieldnames: Sequence[str], rows: Iterable[Mapping[str, object]]) -> None:
    """A header of ``fieldnames``, then one line per row (its values in that order), every cell
    neutralised."""
    writer = csv.writer(stream)
    writer.writerow([neutralise(name) for name in fieldnames])
    for row in rows:
        writer.writerow([neutralise(row[name]) for name in fieldnames])
