"""Every DAG file imports cleanly, follows the house rules, and touches no database or network at parse."""

from __future__ import annotations

import socket
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
import socket, sys
def _refuse(*args, **kwargs):
    raise RuntimeError("network or database access at DAG parse time: %r" % (args[:1],))
socket.socket.connect = _refuse
socket.create_connection = _refuse
import psycopg, psycopg2
psycopg.connect = _refuse
psycopg2.connect = _refuse
import runpy
runpy.run_path(sys.argv[1])
"""


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_no_io_at_parse_time(path: Path) -> None:
    # A child process, so the guard cannot leak into other tests; the DAG module runs as the parser would.
    result = subprocess.run(
        [sys.executable, "-c", _GUARD, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_parse_guard_catches_io(tmp_path: Path) -> None:
    bad = tmp_path / "bad_dag.py"
    bad.write_text("import socket\nsocket.create_connection(('127.0.0.1', 9))\n")
    result = subprocess.run(
        [sys.executable, "-c", _GUARD, str(bad)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode != 0
    assert "parse time" in result.stderr
    assert socket  # the guard patches this module in the child only
