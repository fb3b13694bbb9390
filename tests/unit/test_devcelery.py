"""``SYMPHONICS_EXECUTOR=celery make run``: the executor and worker settings, and how the broker is found."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.symphonics_devstack import devcelery, devstack


@pytest.mark.parametrize(("value", "expected"), [("", "local"), ("local", "local"), ("Celery", "celery")])
def test_the_executor_is_local_unless_celery_is_asked(
    monkeypatch: pytest.MonkeyPatch, value: str, expected: str
) -> None:
    monkeypatch.setenv(devcelery.EXECUTOR_ENV, value)
    assert devcelery.executor() == expected


def test_an_unknown_executor_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(devcelery.EXECUTOR_ENV, "kubernetes")
    with pytest.raises(devcelery.CeleryConfigError, match="use local or celery"):
        devcelery.executor()
    assert devstack.main(["run"]) == 1  # said in one line, nothing started


@pytest.mark.parametrize(("value", "expected"), [("", 2), ("3", 3), ("16", 16)])
def test_worker_count(monkeypatch: pytest.MonkeyPatch, value: str, expected: int) -> None:
    monkeypatch.setenv(devcelery.WORKERS_ENV, value)
    assert devcelery.worker_count() == expected


@pytest.mark.parametrize("value", ["0", "-1", "two", "17"])
def test_a_bad_worker_count_says_what_to_give(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(devcelery.WORKERS_ENV, value)
    with pytest.raises(devcelery.CeleryConfigError, match="from 1 to 16"):
        devcelery.worker_count()


def test_the_celery_settings_put_results_in_postgres_and_ack_late() -> None:
    env = devcelery.celery_environment("redis://127.0.0.1:6379/5", "postgresql+psycopg2://u@/airflow?host=/s")
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CELERY__BROKER_URL"] == "redis://127.0.0.1:6379/5"
    assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+postgresql+psycopg2://u@/airflow?host=/s"
    assert env["AIRFLOW__CELERY__TASK_ACKS_LATE"] == "True"
    # Longer than a task may run (45 min), so a live task is never handed to a second worker.
    assert int(env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT"]) > 45 * 60
    assert env["AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX"] == devcelery.KEY_PREFIX


def test_workers_have_their_own_names_and_one_log_server() -> None:
    first, second = devcelery.worker_argv(1, serve_logs=True), devcelery.worker_argv(2, serve_logs=False)
    assert first[first.index("--celery-hostname") + 1] == "symphonics-worker-1@%h"
    assert second[second.index("--celery-hostname") + 1] == "symphonics-worker-2@%h"
    assert "--skip-serve-logs" not in first
    assert "--skip-serve-logs" in second


def test_a_password_is_never_shown() -> None:
    assert devcelery.redact_url("redis://:s3cret@redis.internal:6380/2") == "redis://:***@redis.internal:6380/2"
    assert "s3cret" not in devcelery.redact_url("redis://user:s3cret@redis.internal/0")
    assert devcelery.redact_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_a_given_redis_that_does_not_answer_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(devcelery.REDIS_URL_ENV, "redis://:pw@127.0.0.1:9/0")  # port 9: nothing answers
    with pytest.raises(devcelery.CeleryConfigError, match="does not answer PING") as raised:
        devcelery.find_broker(tmp_path, tmp_path / "redis.log")
    assert "pw" not in str(raised.value)


def test_without_any_redis_one_line_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(devcelery.REDIS_URL_ENV, raising=False)
    monkeypatch.setattr(devcelery, "LOCAL_REDIS_URL", "redis://127.0.0.1:9/0")
    monkeypatch.setenv("PATH", str(tmp_path))  # no redis-server there
    with pytest.raises(devcelery.CeleryConfigError) as raised:
        devcelery.find_broker(tmp_path, tmp_path / "redis.log")
    assert str(raised.value) == devcelery.NO_REDIS_HINT
    assert "\n" not in devcelery.NO_REDIS_HINT
    assert "apt-get install redis-server" in devcelery.NO_REDIS_HINT
