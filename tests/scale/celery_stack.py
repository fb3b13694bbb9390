"""A real Airflow on the CeleryExecutor for the scale test: api-server, scheduler and N Celery workers.

The components run as subprocesses of the test session (its PostgreSQL databases and Airflow home), each in a
process group of its own, with the settings ``SYMPHONICS_EXECUTOR=celery make run`` uses
(:func:`include.symphonics_devstack.devcelery.celery_environment`). The broker is a Redis database and key prefix of
this session only, so a shared Redis (another engineer's run, another session) never sees its queue.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from include.symphonics_devstack import devcelery
from tests.fixtures.sandbox import REPO_ROOT, free_port

#: The Redis database of the scale test on a shared server (make run's default is 0; engineers' runs use 1-9).
TEST_REDIS_DB = 15
TEST_REDIS_URL_ENV = "SYMPHONICS_TEST_REDIS_URL"
_EXECUTING = re.compile(r"\[([0-9a-f-]{36})\] Executing workload in Celery: (.*)$", re.M)
_FINISHED = re.compile(r"Task execute_workload\[([0-9a-f-]{36})\] (?:succeeded|failed|raised)")


@dataclass(frozen=True)
class TestBroker:
    """The session's Redis: URL, key prefix, and the server started for it (if any)."""

    __test__ = False

    url: str
    key_prefix: str
    process: subprocess.Popen[bytes] | None = None

    def delete_keys(self) -> None:
        """Remove every key of this session's prefix (the queue, unacked messages, bindings)."""
        import redis

        client = redis.Redis.from_url(self.url)
        try:
            keys = list(client.scan_iter(match=f"{self.key_prefix}*", count=500))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


def session_broker(workdir: Path) -> TestBroker:
    """A Redis for this session: ``SYMPHONICS_TEST_REDIS_URL``, else database 15 of the local one, else a
    ``redis-server`` started now. Without any, the test is skipped, except in CI (``CI=true``), where
    ``.ci/run`` installs one: there it fails.
    """
    prefix = f"symphonics-test-{os.getpid()}:"
    given = os.environ.get(TEST_REDIS_URL_ENV, "").strip()
    if given:
        if not devcelery.redis_answers(given):
            pytest.fail(f"{TEST_REDIS_URL_ENV} does not answer PING")
        return TestBroker(url=given, key_prefix=prefix)
    local = devcelery.LOCAL_REDIS_URL.rsplit("/", 1)[0] + f"/{TEST_REDIS_DB}"
    if devcelery.redis_answers(local):
        return TestBroker(url=local, key_prefix=prefix)
    try:
        started = devcelery.start_redis_server(workdir / "redis", workdir / "redis.log")
    except devcelery.CeleryConfigError as exc:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"CI must run the scale test: {exc}")
        pytest.skip(str(exc))
    return TestBroker(url=started.url, key_prefix=prefix, process=started.process)


@dataclass
class CeleryAirflow:
    """The running components and what the test reads from them."""

    base_url: str
    log_dir: Path
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    killed: set[str] = field(default_factory=set)
    http: requests.Session = field(default_factory=requests.Session)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """Call the REST API (all-admins auth: no token), fail on an error status, return the JSON."""
        response = self.http.request(method, f"{self.base_url}/api/v2{path}", timeout=30, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return response.json() if response.content else None

    def log(self, name: str) -> str:
        """What component ``name`` wrote so far."""
        return (self.log_dir / f"{name}.log").read_text(encoding="utf-8", errors="replace")

    def check_alive(self) -> None:
        """Fail with the log tail of a component that exited."""
        for name, process in self.processes.items():
            if name not in self.killed and process.poll() is not None:
                pytest.fail(f"{name} exited ({process.returncode}):\n{self.log(name)[-3000:]}")

    def workloads_per_worker(self) -> dict[str, set[str]]:
        """The Celery task ids each worker executed, from its own log."""
        return {name: set(self.executing(name)) for name in self.processes if name.startswith("worker-")}

    def executing(self, worker: str, *, unfinished: bool = False) -> dict[str, str]:
        """Celery task id -> workload description (dag, task, run, try) of what ``worker`` started.

        :param unfinished: only those whose end the worker has not logged.
        """
        text = self.log(worker)
        started = dict(_EXECUTING.findall(text))
        if unfinished:
            for task_id in _FINISHED.findall(text):
                started.pop(task_id, None)
        return started

    def kill_worker(self, worker: str) -> None:
        """SIGKILL a worker and every process under it (pool children, task supervisors, task processes)."""
        import psutil

        root = psutil.Process(self.processes[worker].pid)
        tree = [root, *root.children(recursive=True)]
        self.killed.add(worker)
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(root.pid, signal.SIGKILL)
        self.processes[worker].wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM every group (workers first, then the scheduler and the api-server), SIGKILL what lingers."""
        order = sorted(self.processes, key=lambda name: (not name.startswith("worker-"), name != "scheduler"))
        for name in order:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.processes[name].pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for name in order:
            process = self.processes[name]
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)  # the group's task processes, if any outlived it
        self.http.close()


def start_celery_airflow(
    env: dict[str, str],
    broker: TestBroker,
    log_dir: Path,
    *,
    workers: int,
    visibility_timeout: int,
    heartbeat_timeout: int,
) -> CeleryAirflow:
    """Serialize the DAGs into the (migrated) metadata database; start the api-server, scheduler, Celery workers.

    :param env: the environment (the session's plus the test's connections and variables).
    :param broker: the session's Redis.
    :param log_dir: where each component's log goes (``<name>.log``).
    :param visibility_timeout: seconds before Redis re-delivers a task whose worker died.
    :param heartbeat_timeout: seconds without a heartbeat before the scheduler fails a task's try (and retries).
    """
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **env,
        **devcelery.celery_environment(
            broker.url,
            env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"],
            key_prefix=broker.key_prefix,
            visibility_timeout=visibility_timeout,
        ),
        "PYTHONPATH": str(REPO_ROOT),
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__PARALLELISM": str(workers * devcelery.WORKER_CONCURRENCY),
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": str(workers * devcelery.WORKER_CONCURRENCY),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(log_dir / "tasks"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(heartbeat_timeout),
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    }
    result = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "reserialize"],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, f"airflow dags reserialize failed:\n{result.stderr[-3000:]}"

    stack = CeleryAirflow(base_url=f"http://127.0.0.1:{port}", log_dir=log_dir)
    stack.http.trust_env = False  # loopback only

    def start(name: str, argv: list[str]) -> None:
        with (log_dir / f"{name}.log").open("wb") as log:
            stack.processes[name] = subprocess.Popen(
                argv, env=env, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    try:
        start("api-server", [sys.executable, "-m", "airflow", "api-server", "--port", str(port), "--host", "127.0.0.1"])
        start("scheduler", [sys.executable, "-m", "airflow", "scheduler"])
        for index in range(1, workers + 1):
            start(f"worker-{index}", devcelery.worker_argv(index, serve_logs=index == 1))
        deadline = time.monotonic() + 240
        while True:
            stack.check_alive()
            with contextlib.suppress(requests.RequestException):
                if stack.http.get(f"{stack.base_url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"the api-server did not answer:\n{stack.log('api-server')[-3000:]}"
            time.sleep(0.5)
        while len(devcelery.live_workers(broker.url, broker.key_prefix)) < workers:
            stack.check_alive()
            assert time.monotonic() < deadline, "the Celery workers did not all answer a ping"
            time.sleep(1)
    except BaseException:
        stack.stop()
        raise
    return stack


def runs_by_kind(stack: CeleryAirflow, dag_ids: list[str]) -> Counter[tuple[str, str, str]]:
    """Dag runs of these DAGs per DAG, run type and state (what an unexpected count is made of)."""
    kinds: Counter[tuple[str, str, str]] = Counter()
    for dag_id in dag_ids:
        for run in stack.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]:
            kinds[(dag_id, run["run_type"], run["state"])] += 1
    return kinds


def runs_by_state(stack: CeleryAirflow, dag_ids: list[str]) -> Counter[str]:
    """Dag runs of these DAGs per state."""
    states: Counter[str] = Counter()
    for dag_id in dag_ids:
        for run in stack.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]:
            states[run["state"]] += 1
    return states
