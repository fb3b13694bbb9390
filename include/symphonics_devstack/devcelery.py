"""Airflow's CeleryExecutor on one machine: the broker, the settings and the workers of a Celery run.

``SYMPHONICS_EXECUTOR=celery make run`` (and the scale test) run N ``airflow celery worker`` processes beside
the scheduler. The broker is Redis: ``SYMPHONICS_REDIS_URL`` when given, else one answering on
``127.0.0.1:6379``, else a ``redis-server`` from the PATH started for the run. Task results go to
PostgreSQL (Airflow's metadata database), so Redis holds only the queue. The compose file's ``celery``
profile sets the same ``AIRFLOW__CELERY…`` values.

Nothing here is Airflow code: it builds environments and command lines, and stays importable without
Airflow or a broker.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

EXECUTOR_ENV = "SYMPHONICS_EXECUTOR"
WORKERS_ENV = "SYMPHONICS_CELERY_WORKERS"
REDIS_URL_ENV = "SYMPHONICS_REDIS_URL"
DEFAULT_WORKERS = 2
LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
#: Task processes per worker: N workers of 2 keep a two-core machine responsive.
WORKER_CONCURRENCY = 2
#: Seconds before Redis hands an unacknowledged task (its worker died) to another worker. Above the
#: tasks' 45 min execution timeout, so a task still running is never delivered twice.
VISIBILITY_TIMEOUT = 3600
#: Every key of this project's queue in a shared Redis starts with this.
KEY_PREFIX = "symphonics:"
WORKER_NAME = "symphonics-worker-{index}"
NO_REDIS_HINT = (
    "no Redis for the Celery broker: set SYMPHONICS_REDIS_URL=redis://host:6379/0, or install one "
    "(Debian/Ubuntu: apt-get install redis-server) and run make again"
)


class CeleryConfigError(ValueError):
    """A Celery setting the user can fix; its message says what to do."""


@dataclass(frozen=True)
class Broker:
    """The Redis the run uses.

    :param url: its URL (``redis://host:port/db``).
    :param how: one line saying where it comes from, for the run's log.
    :param process: the ``redis-server`` started for the run, ``None`` when it was already there.
    """

    url: str
    how: str
    process: subprocess.Popen[bytes] | None = None


def executor() -> str:
    """``local`` (the default) or ``celery``, from ``SYMPHONICS_EXECUTOR``.

    :raises CeleryConfigError: for any other value.
    """
    value = os.environ.get(EXECUTOR_ENV, "").strip().lower() or "local"
    if value not in {"local", "celery"}:
        raise CeleryConfigError(f"{EXECUTOR_ENV}={value!r} is not an executor of make run: use local or celery")
    return value


def worker_count() -> int:
    """How many Celery workers to run, from ``SYMPHONICS_CELERY_WORKERS`` (default 2).

    :raises CeleryConfigError: when it is not a whole number from 1 to 16.
    """
    raw = os.environ.get(WORKERS_ENV, "").strip() or str(DEFAULT_WORKERS)
    if not raw.isdigit() or not 1 <= int(raw) <= 16:
        raise CeleryConfigError(f"{WORKERS_ENV}={raw!r}: give a whole number of workers from 1 to 16")
    return int(raw)


def redis_answers(url: str, timeout: float = 1.0) -> bool:
    """Whether a Redis answers ``PING`` at ``url``."""
    import redis

    client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
    try:
        return bool(client.ping())
    except (redis.RedisError, OSError):
        return False
    finally:
        client.close()


def redact_url(url: str) -> str:
    """``url`` without its password, for a log line."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_redis_server(data_dir: Path, log_file: Path, port: int | None = None) -> Broker:
    """Start ``redis-server`` from the PATH on loopback (no persistence: the queue is rebuilt by Airflow).

    :param data_dir: its working folder.
    :param log_file: where its output goes.
    :param port: its port (default: a free one).
    :raises CeleryConfigError: when there is no ``redis-server`` or it does not answer within 10 s.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        raise CeleryConfigError(NO_REDIS_HINT)
    port = port or _free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    argv += ["--dir", str(data_dir)]
    with log_file.open("ab") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CeleryConfigError(f"redis-server exited (code {process.returncode}); see {log_file}")
        if redis_answers(url, timeout=0.5):
            return Broker(url=url, how=f"redis-server started on 127.0.0.1:{port} (pid {process.pid})", process=process)
        time.sleep(0.2)
    process.terminate()
    raise CeleryConfigError(f"redis-server did not answer on 127.0.0.1:{port} within 10 s; see {log_file}")


def find_broker(data_dir: Path, log_file: Path) -> Broker:
    """The Redis of a Celery run: the one given, the local one, or one started now.

    :param data_dir: the working folder of a ``redis-server`` started here.
    :param log_file: where its output goes.
    :raises CeleryConfigError: with one line saying how to get a Redis when there is none.
    """
    given = os.environ.get(REDIS_URL_ENV, "").strip()
    if given:
        if not redis_answers(given):
            raise CeleryConfigError(f"{REDIS_URL_ENV} ({redact_url(given)}) does not answer PING: start it or fix it")
        return Broker(url=given, how=f"Redis from {REDIS_URL_ENV}: {redact_url(given)}")
    if redis_answers(LOCAL_REDIS_URL):
        return Broker(url=LOCAL_REDIS_URL, how=f"the Redis answering at {LOCAL_REDIS_URL}")
    return start_redis_server(data_dir, log_file)


def celery_environment(
    broker_url: str,
    result_backend_sqlalchemy_url: str,
    *,
    key_prefix: str = KEY_PREFIX,
    visibility_timeout: int = VISIBILITY_TIMEOUT,
    concurrency: int = WORKER_CONCURRENCY,
) -> dict[str, str]:
    """The Airflow settings of a CeleryExecutor run (every component gets the same ones).

    :param broker_url: the Redis URL (its database number separates runs that share a server).
    :param result_backend_sqlalchemy_url: Airflow's metadata database (SQLAlchemy form): results go there.
    :param key_prefix: the prefix of every queue key in Redis.
    :param visibility_timeout: seconds before a task a dead worker held is delivered to another one.
    :param concurrency: task processes per worker.
    """
    return {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CELERY__BROKER_URL": broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{result_backend_sqlalchemy_url}",
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(concurrency),
        # Acknowledged after the task, not before: a worker killed mid-task leaves its message to Redis.
        "AIRFLOW__CELERY__TASK_ACKS_LATE": "True",
        "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT": str(visibility_timeout),
        "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": key_prefix,
    }


def worker_hostname(index: int) -> str:
    """The Celery node name of worker ``index`` (``%h`` is the machine's host name)."""
    return WORKER_NAME.format(index=index) + "@%h"


def worker_argv(index: int, *, serve_logs: bool) -> list[str]:
    """The command line of Celery worker ``index`` (1-based).

    :param serve_logs: run the worker's log server; one per machine (they would share its port).
    """
    argv = [sys.executable, "-m", "airflow", "celery", "worker", "--celery-hostname", worker_hostname(index)]
    argv += ["--without-mingle", "--without-gossip"]
    return argv if serve_logs else [*argv, "--skip-serve-logs"]


def live_workers(broker_url: str, key_prefix: str = KEY_PREFIX, timeout: float = 2.0) -> list[str]:
    """Names of the Celery workers answering a ping through ``broker_url`` (sorted)."""
    from celery import Celery

    app = Celery(broker=broker_url)
    app.conf.broker_transport_options = {"global_keyprefix": key_prefix}
    try:
        replies = app.control.ping(timeout=timeout) or []
    except OSError:
        return []
    finally:
        app.close()
    return sorted(name for reply in replies for name in reply)
