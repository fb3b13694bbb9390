"""``docs/RELIABILITY.md``'s "Known gaps" are computed from the fault suite's run, never written by hand."""

from __future__ import annotations

from tests.faults.audit import known_gaps, render_reliability
from tests.faults.conftest import ScenarioFigures


def _figure(scenario: str, case: str, **bad: int) -> ScenarioFigures:
    counts = {"lost": 0, "duplicated": 0, "server_errors": 0, "secrets": 0, **bad}
    return ScenarioFigures(scenario, case, faults=3, **counts)


def test_a_clean_run_has_no_gap_and_says_so() -> None:
    figures = [_figure("1", "stopped"), _figure("2", "bare")]
    assert known_gaps(figures, {}) == []
    text = render_reliability(figures)
    assert "## Known gaps\n\nNone in this run" in text
    assert text.index("## Known gaps") < text.index("## Observations")


def test_a_declared_xfail_and_a_bad_figure_are_gaps() -> None:
    figures = [_figure("1", "stopped"), _figure("4", "two workers", duplicated=2, lost=1)]
    xfailed = {"tests/faults/test_pg_restart.py::test_restart": "pgserver hands back a stopped server"}
    gaps = known_gaps(figures, xfailed)
    assert gaps == [
        "`test_pg_restart.py::test_restart` (a strict `xfail`): pgserver hands back a stopped server",
        "scenario 4 (two workers): 1 lost, 2 duplicated",
    ]
    text = render_reliability(figures, xfailed)
    assert "- scenario 4 (two workers): 1 lost, 2 duplicated" in text
    assert "None in this run" not in text


def test_the_document_cites_what_exists() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    text = render_reliability([])
    assert "include/symphonics/sql/reconcile/complete_conflicts.sql" in text
    assert (root / "include/symphonics/sql/reconcile/complete_conflicts.sql").exists()
    assert "lookup completes" not in text
