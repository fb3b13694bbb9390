"""The Astro-format settings loader: its parsing rules (applied: ``tests/devstack/test_airflow_settings_apply.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from include.symphonics_devstack.airflow_settings import SettingsError, parse_settings
from tests.fixtures.settings_sample import SAMPLE

PROJECT_FILE = Path(__file__).resolve().parents[2] / "airflow_settings.yaml"


def test_project_file_parses(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SYMPHONICS_PG_HOST",
        "SYMPHONICS_PG_PORT",
        "SYMPHONICS_PG_USER",
        "SYMPHONICS_PG_PASSWORD",
        "SYMPHONICS_SYNC_USER",
        "SYMPHONICS_SYNC_PASSWORD",
    ):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("SYMPHONICS_SANDBOX_PORT", "8099")
    settings = parse_settings(PROJECT_FILE.read_text())
    assert {c.conn_id for c in settings.connections} == {"app_db", "sync_db", "symphonics_default"}
    assert settings.pools == []  # the shared quota caps the calls; a pool would only queue tasks (README)
    assert {v.key for v in settings.variables} == {"symphonics_kill_switch", "symphonics_writeback"}


def test_placeholders_are_filled_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOADER_TEST_HOST", "/run/pg-socket")
    (conn,) = parse_settings(SAMPLE).connections
    assert conn.host == "/run/pg-socket"
    assert conn.port == 5432
    assert json.loads(conn.extra or "") == {"sslmode": "disable"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("airflow: [1, 2]", "top level"),
        ("airflow:\n  connections:\n    - conn_type: http\n", "'conn_id' is required"),
        ("airflow:\n  pools:\n    - pool_name: p\n      pool_slot: -1\n", "pool_slot"),
        ("airflow:\n  connections:\n    - {conn_id: a, conn_type: http, conn_port: abc}\n", "not a number"),
        ("airflow:\n  connections:\n    - {conn_id: a, conn_type: http, conn_host: '${NOPE_UNSET_VAR}'}\n", "NOPE"),
        ("airflow: {connections: [", "not valid YAML"),
    ],
)
def test_bad_files_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("$", r"\$")):
        parse_settings(text)
