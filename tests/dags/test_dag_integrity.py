"""Every DAG file imports cleanly, follows the house rules, and touches no database or network at parse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DAGS_DIR = Path(__file__).resolve().parents[2] / "dags"
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_DIR))


def test_there_are_dags() -> None:
    assert DAG_FILES, "dags/ holds no DAG file"


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_one_dag_per_file_named_after_it(dagbag, path: Path) -> None:
    dag_ids = [dag_id for dag_id, dag in dagbag.dags.items() if Path(dag.fileloc) == path]
    assert dag_ids == [path.stem]


def test_house_rules(dagbag) -> None:
    problems = []
    for dag_id, dag in dagbag.dags.items():
        if not dag.tags:
            problems.append(f"{dag_id}: no tags")
        if not dag.doc_md:
            problems.append(f"{dag_id}: no doc_md")
        if dag.catchup:
            problems.append(f"{dag_id}: catchup is on")
        for task in dag.tasks:
            if task.owner in (None, "", "airflow"):
                problems.append(f"{dag_id}.{task.task_id}: no owner")
            if task.retries < 2:
                problems.append(f"{dag_id}.{task.task_id}: retries={task.retries} (< 2)")
    assert problems == []


_GUARD = """
import json, socket, sys, traceback
def _refuse(*args, **kwargs):
    raise RuntimeError("network or database access at DAG parse time: %r" % (args[:1],))
socket.socket.connect = _refuse
socket.create_connection = _refuse
import psycopg, psycopg2
psycopg.connect = _refuse
psycopg2.connect = _refuse
import runpy
errors = {}
for path in sys.argv[1:]:
    try:
        runpy.run_path(path)
        errors[path] = None
    except BaseException:
        errors[path] = traceback.format_exc()[-2000:]
print(json.dumps(errors))
"""


def _parse_guarded(paths: list[Path]) -> dict[str, str | None]:
    """Run each file as the parser would in one child with sockets and database drivers refused; its error or None.

    A child process, so the guard cannot leak into other tests; one for all files, so Airflow is imported once.
    """
    result = subprocess.run(
        [sys.executable, "-c", _GUARD, *map(str, paths)], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def parse_errors() -> dict[str, str | None]:
    return _parse_guarded(DAG_FILES)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_no_io_at_parse_time(parse_errors: dict[str, str | None], path: Path) -> None:
    assert parse_errors[str(path)] is None, parse_errors[str(path)]


def test_parse_guard_catches_io(tmp_path: Path) -> None:
    bad = tmp_path / "bad_dag.py"
    bad.write_text("import socket\nsocket.create_connection(('127.0.0.1', 9))\n")
    error = _parse_guarded([bad])[str(bad)]
    assert error is not None
    assert "parse time" in error
