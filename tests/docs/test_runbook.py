"""Every command of docs/RUNBOOK.md runs: its SQL blocks through psql on the migrated ``sync`` database (on rows
in the states it talks about), its Airflow commands through the CLI on the test's Airflow."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.publish.conftest import clean_pipeline_tables

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "RUNBOOK.md"
EXTERNAL_ID = "WFA-2026-000123"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", RUNBOOK.read_text(encoding="utf-8"), flags=re.DOTALL)


def _psql(sync_dsn: str, sql: str) -> str:
    result = subprocess.run(
        [shutil.which("psql") or "psql", sync_dsn, "-X", "-v", "ON_ERROR_STOP=1", "-v", f"external_id={EXTERNAL_ID}"],
        input=sql,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{sql}\n{result.stderr}"
    return result.stdout


@pytest.fixture
def dead_letter_row(sync_dsn: str) -> None:
    clean_pipeline_tables(sync_dsn)
    with psycopg.connect(sync_dsn) as conn:
        conn.execute(
            "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status, "
            "app_updated_at, source, source_fingerprint, state, state_reason, state_detail, attempts, "
            "last_error_message) VALUES (%s, 123, 'completed', now(), '{}'::jsonb, 'fp', 'dead_letter', "
            "'too_many_attempts', 'partner 503 five times', 5, 'Service unavailable')",
            (EXTERNAL_ID,),
        )


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_every_sql_block_of_the_runbook_runs(sync_dsn: str, dead_letter_row: None) -> None:
    blocks = _blocks("sql")
    assert len(blocks) >= 6
    outputs = [_psql(sync_dsn, block) for block in blocks]
    # The rows-waiting-for-ops queries find the dead_letter row, and the one-row query shows why.
    assert any("dead_letter" in output and "too_many_attempts" in output for output in outputs)
    assert any(EXTERNAL_ID in output and "Service unavailable" in output for output in outputs)


@pytest.mark.skipif(shutil.which("psql") is None, reason="psql is not installed")
def test_the_psql_command_line_as_written(sync_dsn: str, dead_letter_row: None, tmp_path: Path) -> None:
    [line] = [line for block in _blocks("bash") for line in block.splitlines() if line.startswith("psql ")]
    command = line.split("#", 1)[0]
    (tmp_path / "query.sql").write_text(
        "SELECT external_id FROM symphonics.interventions_ledger WHERE external_id = :'external_id';\n",
        encoding="utf-8",
    )
    result = subprocess.run(  # noqa: S602 - the runbook's own line, with SYNC set to the test database
        command,
        shell=True,
        cwd=tmp_path,
        env={**os.environ, "SYNC": sync_dsn},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert EXTERNAL_ID in result.stdout


def test_every_airflow_command_of_the_runbook_runs(sync_dsn: str) -> None:
    commands = [line for block in _blocks("bash") for line in block.splitlines() if line.startswith("airflow ")]
    assert any("dags trigger" in command for command in commands)
    reserialized = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "reserialize"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert reserialized.returncode == 0, reserialized.stderr[-3000:]
    outputs = []
    for command in commands:
        argv = shlex.split(command.split("  #", 1)[0])
        result = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=300, check=False)
        assert result.returncode == 0, f"{command}\n{result.stderr[-3000:]}"
        outputs.append(result.stdout)
    assert "on" in outputs[1]  # get, after set on
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        runs = [run for run in session.query(DagRun).filter(DagRun.dag_id == "symphonics_publish")]
        assert any((run.conf or {}).get("external_ids") == [EXTERNAL_ID] for run in runs)
