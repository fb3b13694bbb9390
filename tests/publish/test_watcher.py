"""The completion watcher's "what is new" decision, its serialisation, and its identity across parses."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from include.symphonics.publish.watcher import (
    CLASSPATH,
    CompletionWatcher,
    ProbedRow,
    decide,
    describe_error,
)

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def row(seconds: int, row_id: int, status: str, was_completed: bool | None = None) -> ProbedRow:
    completed = status == "completed" if was_completed is None else was_completed
    return ProbedRow(T0 + timedelta(seconds=seconds), row_id, status, completed)


def test_a_completion_past_the_position_fires_and_moves_the_position() -> None:
    decision = decide((T0, 0), [row(1, 7, "scheduled"), row(2, 3, "completed"), row(3, 9, "in_progress")])
    assert decision.fire
    assert decision.actionable == 1
    assert decision.examined == 3
    assert decision.position == (T0 + timedelta(seconds=3), 9)
    assert decision.oldest == T0 + timedelta(seconds=2)


def test_edits_of_scheduled_jobs_never_fire_but_are_passed_over() -> None:
    rows = [row(1, 1, "scheduled"), row(2, 2, "in_progress"), row(3, 3, "cancelled", was_completed=False)]
    decision = decide((T0, 0), rows)
    assert not decision.fire
    assert decision.actionable == 0
    # Passed over once: the next probe starts after them.
    assert decision.position == (T0 + timedelta(seconds=3), 3)


def test_a_cancellation_after_completion_fires() -> None:
    decision = decide((T0, 0), [row(1, 4, "cancelled", was_completed=True)])
    assert decision.fire
    assert decision.actionable == 1


def test_a_condition_that_stays_true_fires_once() -> None:
    rows = [row(1, 1, "completed"), row(2, 2, "completed")]
    first = decide((T0, 0), rows)
    assert first.fire
    assert first.actionable == 2
    # The same rows, still completed, read again from the new position (a probe that overlaps): nothing new.
    again = decide(first.position, rows)
    assert not again.fire
    assert again.examined == 0
    assert again.position == first.position


def test_a_completed_row_edited_again_is_new_again() -> None:
    # A published intervention whose documents changed: the app's trigger moves its updated_at forward.
    first = decide((T0, 0), [row(1, 5, "completed")])
    edited = decide(first.position, [row(9, 5, "completed")])
    assert edited.fire
    assert edited.position == (T0 + timedelta(seconds=9), 5)


def test_ties_on_updated_at_are_broken_by_id() -> None:
    position = (T0 + timedelta(seconds=1), 5)
    decision = decide(position, [row(1, 5, "completed"), row(1, 6, "completed")])
    assert decision.actionable == 1
    assert decision.position == (T0 + timedelta(seconds=1), 6)


def test_an_empty_probe_keeps_the_position() -> None:
    decision = decide((T0, 42), [])
    assert not decision.fire
    assert decision.position == (T0, 42)
    assert decision.oldest is None


def test_serialise_round_trips_to_an_equal_trigger() -> None:
    watcher = CompletionWatcher(poll_interval=2.5, max_rows=100)
    classpath, kwargs = watcher.serialize()
    assert classpath == CLASSPATH
    module_name, class_name = classpath.rsplit(".", 1)
    cls = getattr(__import__(module_name, fromlist=[class_name]), class_name)
    assert cls is CompletionWatcher
    rebuilt = cls(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    # Plain JSON values only, and no connection string or secret: the ids are resolved when it runs.
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert kwargs == {
        "app_conn_id": "app_db",
        "sync_conn_id": "sync_db",
        "poll_interval": 2.5,
        "max_rows": 100,
        "watcher": "symphonics_completions",
    }


def test_the_trigger_identity_is_stable_and_follows_its_kwargs() -> None:
    from airflow.triggers.base import BaseEventTrigger

    one = BaseEventTrigger.hash(*CompletionWatcher(poll_interval=2).serialize())
    two = BaseEventTrigger.hash(*CompletionWatcher(poll_interval=2.0).serialize())
    other = BaseEventTrigger.hash(*CompletionWatcher(poll_interval=5).serialize())
    assert one == two
    assert one != other


_PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.triggers.base import BaseEventTrigger
bag = DagBag(dag_folder=sys.argv[1])
assert bag.import_errors == {}, bag.import_errors
dag = bag.dags["symphonics_publish"]
assets = list(dag.timetable.asset_condition.objects)
watchers = [(w.name, w.trigger.serialize()) for a in assets for w in a.watchers]
print(json.dumps(watchers))
"""


def _parse_watchers(parses: int) -> list[list]:
    """Each parse's watchers, the parses in separate processes started together (each pays Airflow's import)."""
    command = [sys.executable, "-c", _PARSE, str(ROOT / "dags" / "symphonics_publish.py")]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(parses)
    ]
    results = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr[-2000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))
    return results


def test_two_parses_give_the_same_watcher_kwargs() -> None:
    first, second = _parse_watchers(2)
    assert first == second
    assert len(first) == 1
    name, (classpath, kwargs) = first[0]
    assert name == "symphonics_completions"
    assert classpath == CLASSPATH
    assert kwargs["poll_interval"] > 0


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="poll_interval"):
        CompletionWatcher(poll_interval=0)
    with pytest.raises(ValueError, match="max_rows"):
        CompletionWatcher(max_rows=0)


def test_an_error_is_described_in_one_line() -> None:
    assert describe_error(OSError("connection refused\nis the server running?")) == "OSError: connection refused"
    assert describe_error(TimeoutError()) == "TimeoutError"
