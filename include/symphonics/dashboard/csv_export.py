"""The one CSV writer of the dashboard's downloads, safe to open in a spreadsheet.

A cell starting with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage return, which some spreadsheets skip before
reading a formula) opens as a live formula, ``HYPERLINK`` included: the app's and the partner's text is data, never
a formula. As OWASP recommends for CSV exports, such a cell gets a leading single quote; the ``csv`` module quotes a
cell holding a separator, a quote or a line break (lines end in CRLF, as RFC 4180 has it, so a lone carriage return
is quoted too), so no text can start a cell or a line of its own.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: What a spreadsheet may read as the start of a formula (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """``value`` as a CSV cell: text starting like a formula gets a leading ``'``; numbers and None as they are.

    :param value: a cell's value.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """``rows`` as CSV: a header line, then one line a row, each cell made safe by :func:`safe_cell`.

    :param columns: the columns, in order (a row's other keys are left out).
    :param rows: the rows, as JSON-ready dicts.
    """
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({column: safe_cell(row.get(column)) for column in columns})
    return out.getvalue()
