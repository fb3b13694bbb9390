"""``airflow_settings.yaml`` applied to Airflow's metadata database: created once, an operator's later changes kept,
the environment's connection winning, and no unkeyed hash of a secret in the state file (integration: the session's
Airflow database; the file's parsing is tested in ``tests/unit/test_airflow_settings.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.symphonics_devstack.airflow_settings import apply_settings, parse_settings
from tests.fixtures.settings_sample import SAMPLE


@pytest.fixture
def clean_metadata(airflow_db: object) -> Iterator[None]:
    from airflow.models import Connection, Pool, Variable
    from airflow.utils.session import create_session

    def wipe() -> None:
        with create_session() as session:
            session.query(Connection).filter(Connection.conn_id == "test_loader_db").delete()
            session.query(Pool).filter(Pool.pool == "test_loader_pool").delete()
            session.query(Variable).filter(Variable.key == "test_loader_var").delete()

    wipe()
    yield
    wipe()


def _conn_host() -> str | None:
    from airflow.models import Connection
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.query(Connection).filter(Connection.conn_id == "test_loader_db").one().host


def test_apply_creates_then_leaves_operator_changes_alone(
    clean_metadata, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.models import Connection, Pool
    from airflow.utils.session import create_session

    state = tmp_path / "applied.json"
    monkeypatch.setenv("LOADER_TEST_HOST", "/first")
    report = apply_settings(parse_settings(SAMPLE), state)
    assert sorted(report.created) == ["connection:test_loader_db", "pool:test_loader_pool", "variable:test_loader_var"]
    assert _conn_host() == "/first"

    # The same file again changes nothing.
    again = apply_settings(parse_settings(SAMPLE), state)
    assert again.created == []
    assert again.updated == []
    assert len(again.unchanged) == 3

    # The file changes, and nobody touched the connection: it follows the file.
    monkeypatch.setenv("LOADER_TEST_HOST", "/second")
    assert apply_settings(parse_settings(SAMPLE), state).updated == ["connection:test_loader_db"]
    assert _conn_host() == "/second"

    # An operator edits the connection and the pool: a later load keeps their values.
    with create_session() as session:
        session.query(Connection).filter(Connection.conn_id == "test_loader_db").one().host = "/operator"
        session.query(Pool).filter(Pool.pool == "test_loader_pool").one().slots = 9
    monkeypatch.setenv("LOADER_TEST_HOST", "/third")
    kept = apply_settings(parse_settings(SAMPLE), state)
    assert sorted(kept.kept_operator_change) == ["connection:test_loader_db", "pool:test_loader_pool"]
    assert _conn_host() == "/operator"
    assert "secret" not in state.read_text()


def test_environment_connection_wins(clean_metadata, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOADER_TEST_HOST", "/from-file")
    monkeypatch.setenv("AIRFLOW_CONN_TEST_LOADER_DB", "postgres://env-host/sync")
    report = apply_settings(parse_settings(SAMPLE), tmp_path / "applied.json")
    assert report.skipped_env == ["test_loader_db"]
    assert "connection:test_loader_db" not in report.created


SECRET_SAMPLE = """
airflow:
  connections:
    - conn_id: test_loader_db
      conn_type: postgres
      conn_host: /socket
      conn_password: ${LOADER_TEST_PASSWORD}
      conn_extra: {webhook_secret: "${LOADER_TEST_WEBHOOK_SECRET}"}
"""


def _unkeyed_hashes(values: dict) -> set[str]:
    import hashlib

    from include.symphonics_devstack.airflow_settings import _canonical

    return {hashlib.sha256(_canonical(values)).hexdigest()}


def test_the_state_file_holds_no_unkeyed_hash_of_a_secret(
    clean_metadata, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hashlib
    import stat

    password, webhook_secret = "loader-password-0123", "loader-webhook-secret-4567"
    monkeypatch.setenv("LOADER_TEST_PASSWORD", password)
    monkeypatch.setenv("LOADER_TEST_WEBHOOK_SECRET", webhook_secret)
    state = tmp_path / "airflow_settings.applied.json"
    assert apply_settings(parse_settings(SECRET_SAMPLE), state).created == ["connection:test_loader_db"]

    text = state.read_text()
    key_file = tmp_path / "airflow_settings.key"
    # Created private (os.open with the mode: never readable by others, even for an instant).
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert password not in text
    assert webhook_secret not in text
    # What an attacker who knows the demo values would recompute offline: the old unkeyed fingerprint of the
    # connection, and plain hashes of each secret. None of them is in the file.
    (setting,) = parse_settings(SECRET_SAMPLE).connections
    wanted = {
        "conn_type": setting.conn_type,
        "host": setting.host,
        "schema": setting.schema,
        "login": setting.login,
        "password": setting.password,
        "port": setting.port,
        "extra": setting.extra,
    }
    guesses = _unkeyed_hashes(wanted) | {
        hashlib.sha256(value.encode()).hexdigest() for value in (password, webhook_secret, setting.extra or "")
    }
    assert not [guess for guess in guesses if guess in text]
    document = json.loads(text)
    assert document["format"] == 2
    assert document["fingerprints"]["connection:test_loader_db"].startswith("hmac-sha256:")

    # Keyed: the same values under another key give another fingerprint, so the file alone proves nothing.
    from include.symphonics_devstack.airflow_settings import Fingerprints

    other = Fingerprints(tmp_path / "other.json", key_file=tmp_path / "other.key")
    assert other.of(wanted) != document["fingerprints"]["connection:test_loader_db"]
    assert Fingerprints(state).last_written("connection:test_loader_db", wanted)


def test_a_version_1_state_file_is_recognised_once_then_rewritten_keyed(
    clean_metadata, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOADER_TEST_PASSWORD", "first-password-0123")
    monkeypatch.setenv("LOADER_TEST_WEBHOOK_SECRET", "first-webhook-secret")
    state = tmp_path / "airflow_settings.applied.json"
    apply_settings(parse_settings(SECRET_SAMPLE), state)
    (setting,) = parse_settings(SECRET_SAMPLE).connections
    written = {
        "conn_type": setting.conn_type,
        "host": setting.host,
        "schema": setting.schema,
        "login": setting.login,
        "password": setting.password,
        "port": setting.port,
        "extra": setting.extra,
    }
    # What an older version left: a flat mapping of unkeyed SHA-256 fingerprints.
    (legacy,) = _unkeyed_hashes(written)
    state.write_text(json.dumps({"connection:test_loader_db": legacy}))

    # The file changes and nobody touched the connection: the loader still knows it wrote it, and updates it.
    monkeypatch.setenv("LOADER_TEST_PASSWORD", "second-password-4567")
    report = apply_settings(parse_settings(SECRET_SAMPLE), state)
    assert report.updated == ["connection:test_loader_db"]
    assert legacy not in state.read_text()
    assert json.loads(state.read_text())["format"] == 2
