"""``make run`` / ``make stop`` / ``make status``: the whole stack on one machine, for the demo and for work.

``run`` starts PostgreSQL (embedded unless ``SYMPHONICS_PG_URL`` is set), migrates Airflow and the
``sync`` database, applies ``airflow_settings.yaml``, seeds the app's demo data, starts the Symphonics
sandbox and Airflow's four components (api-server, scheduler, dag-processor, triggerer) in a process
group of their own, then waits. ``SYMPHONICS_EXECUTOR=celery`` runs the CeleryExecutor instead of the
LocalExecutor: ``SYMPHONICS_CELERY_WORKERS`` workers (default 2) join the group, with a Redis broker
(see ``devcelery``). Ctrl-C or ``make stop`` ends the Airflow group first, then the sandbox,
then PostgreSQL (whose "smart" shutdown would otherwise wait for Airflow's pooled connections).

Every problem a newcomer can meet (a port taken, an old Python, a server that does not answer) is one
line saying what is wrong and what to do.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from include.symphonics import devcelery, localpg

LOCAL_DIR = localpg.LOCAL_DIR
AIRFLOW_HOME = LOCAL_DIR / "airflow"
LOG_DIR = LOCAL_DIR / "logs"
STATE_FILE = LOCAL_DIR / "run.json"
PROJECT_ROOT = localpg.PROJECT_ROOT

AIRFLOW_PORT = int(os.environ.get("SYMPHONICS_AIRFLOW_PORT", "8080"))
SANDBOX_PORT = int(os.environ.get("SYMPHONICS_SANDBOX_PORT", "8099"))
DEMO_INTERVENTIONS = int(os.environ.get("SYMPHONICS_DEMO_INTERVENTIONS", "300"))
# A local demo login, documented in the README; a real deployment uses its own auth manager.
DEMO_LOGIN = ("admin", "admin")
AIRFLOW_COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


class StackError(RuntimeError):
    """A problem the user can fix; its message says what to do."""


_STARTED = time.monotonic()


def _say(message: str) -> None:
    print(f"[make run {time.monotonic() - _STARTED:5.1f}s] {message}", flush=True)


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a stale PID file names one that does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_state() -> dict[str, object] | None:
    if not STATE_FILE.exists():
        return None
    try:
        state = json.loads(STATE_FILE.read_text())
    except ValueError:
        STATE_FILE.unlink()
        return None
    return state if isinstance(state, dict) else None


def _stack_running(state: dict[str, object] | None) -> bool:
    runner = (state or {}).get("runner_pid")
    return isinstance(runner, int) and process_alive(runner)


def _fernet_key() -> str:
    """A local Fernet key, generated once: it encrypts connection passwords and the shared API token."""
    key_file = AIRFLOW_HOME / "fernet.key"
    if not key_file.exists():
        from cryptography.fernet import Fernet

        AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
        key_file.write_text(Fernet.generate_key().decode())
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def stack_environment(server: localpg.PgServer) -> dict[str, str]:
    """The environment every process of the stack runs with."""
    admin = urlsplit(server.admin_url)
    return {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        # Two cores: four task processes at once keep the machine responsive.
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "4",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{DEMO_LOGIN[0]}:admin",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{AIRFLOW_PORT}/execution/",
        "AIRFLOW__API__PORT": str(AIRFLOW_PORT),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{AIRFLOW_PORT}",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": server.sqlalchemy_url("airflow"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(LOG_DIR / "tasks"),
        "SYMPHONICS_PG_HOST": server.socket_dir or admin.hostname or "localhost",
        "SYMPHONICS_PG_PORT": str(admin.port or ""),
        "SYMPHONICS_PG_USER": admin.username or "postgres",
        "SYMPHONICS_PG_PASSWORD": admin.password or "",
        "SYMPHONICS_SANDBOX_PORT": str(SANDBOX_PORT),
        "SYMPHONICS_SANDBOX_URL": f"http://127.0.0.1:{SANDBOX_PORT}",
    }


def _run_step(description: str, argv: list[str], env: dict[str, str]) -> None:
    _say(description)
    result = subprocess.run(argv, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise StackError(f"{description} failed:\n{tail}")


def _wait_http(url: str, seconds: float, what: str, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise StackError(f"{what} exited early (code {process.returncode}); see {LOG_DIR}")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(url, timeout=2) as response,  # noqa: S310 (a loopback URL we built)
        ):
            if response.status < 500:
                return
        time.sleep(0.5)
    raise StackError(f"{what} did not answer at {url} within {seconds:.0f} s; see {LOG_DIR}")


def _python(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def _start(argv: list[str], env: dict[str, str], log_name: str, group: int | None) -> subprocess.Popen[bytes]:
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log_file = (LOG_DIR / f"{log_name}.log").open("ab")
    # A group of its own (not the terminal's): Ctrl-C reaches only this runner, which stops the group in order.
    kwargs: dict[str, object] = {"process_group": group or 0}
    return subprocess.Popen(  # type: ignore[call-overload]
        argv, env=env, cwd=PROJECT_ROOT, stdout=log_file, stderr=subprocess.STDOUT, **kwargs
    )


def _terminate_group(pgid: int, grace: float = 20.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        # Reap the members that are our children: a zombie still counts as a member of its group.
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-pgid, os.WNOHANG)[0] > 0:
                pass
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.3)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _prepare(env: dict[str, str], server: localpg.PgServer) -> None:
    from include.symphonics.db import migrate

    _run_step("migrating Airflow's metadata database", _python("airflow", "db", "migrate"), env)
    _say("migrating the sync database")
    migrate.upgrade(server.url("sync"))
    _run_step(
        "applying airflow_settings.yaml",
        _python("include.symphonics.airflow_settings", "--file", str(PROJECT_ROOT / "airflow_settings.yaml")),
        env,
    )
    app_env = {**env, "SYMPHONICS_APP_DSN": server.url("app")}
    _run_step("applying the app's reference schema", _python("include.symphonics.demo", "init-schema"), app_env)
    if _app_is_empty(server.url("app")):
        _run_step(
            f"seeding {DEMO_INTERVENTIONS} demo interventions",
            _python("include.symphonics.demo", "seed", "--interventions", str(DEMO_INTERVENTIONS), "--seed", "42"),
            app_env,
        )


def _app_is_empty(app_url: str) -> bool:
    import psycopg

    with psycopg.connect(app_url) as conn:
        row = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM interventions)").fetchone()
    return bool(row and row[0])


def run() -> int:
    """Start everything, print where to look, and wait for Ctrl-C (or ``make stop``)."""
    executor = devcelery.executor()
    workers = devcelery.worker_count() if executor == "celery" else 0
    state = _read_state()
    if _stack_running(state):
        raise StackError(f"the stack is already running (pid {state['runner_pid']}): `make stop` first")  # type: ignore[index]
    if state:
        _say("removing the state of a run that did not stop cleanly")
        stop(quiet=True)
    for port, what, variable in (
        (AIRFLOW_PORT, "the Airflow UI", "SYMPHONICS_AIRFLOW_PORT"),
        (SANDBOX_PORT, "the Symphonics sandbox", "SYMPHONICS_SANDBOX_PORT"),
    ):
        if _port_taken(port):
            raise StackError(
                f"port {port} (for {what}) is already in use: stop what uses it, or set {variable}=<free port>"
            )

    processes: dict[str, subprocess.Popen[bytes]] = {}
    airflow_group: int | None = None
    broker: devcelery.Broker | None = None
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        raise KeyboardInterrupt  # leave whatever step is under way; the finally stops what was started

    def save_state() -> None:
        # Written after every start, so `make stop` (or the next `make run`) finds what a failed start left.
        STATE_FILE.write_text(
            json.dumps(
                {
                    "runner_pid": os.getpid(),
                    "airflow_pgid": airflow_group,
                    "sandbox_pid": processes["sandbox"].pid if "sandbox" in processes else None,
                    "executor": executor,
                    "broker_url": broker.url if broker else None,
                    "redis_pid": broker.process.pid if broker and broker.process else None,
                    "workers": {name: p.pid for name, p in processes.items() if name.startswith("celery-worker")},
                }
            )
        )

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        LOCAL_DIR.mkdir(parents=True, exist_ok=True)
        save_state()
        server = localpg.get_server(LOCAL_DIR / "pg")
        where = f"embedded, data in {server.embedded_dir}" if server.embedded_dir else "from SYMPHONICS_PG_URL"
        _say(f"PostgreSQL ready ({where})")
        server.ensure_databases(localpg.DATABASES)
        env = {**os.environ, **stack_environment(server)}
        if executor == "celery":
            broker = devcelery.find_broker(LOCAL_DIR / "redis", LOG_DIR / "redis.log")
            save_state()
            _say(f"Celery broker: {broker.how}")
            env.update(devcelery.celery_environment(broker.url, server.sqlalchemy_url("airflow")))
        AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
        (AIRFLOW_HOME / "simple_auth_manager_passwords.json.generated").write_text(
            json.dumps({DEMO_LOGIN[0]: DEMO_LOGIN[1]})
        )
        _prepare(env, server)

        # The sandbox delivers its signed webhooks to the receiver the api-server mounts (plugins/).
        webhook_url = f"http://localhost:{AIRFLOW_PORT}/symphonics/webhooks"
        processes["sandbox"] = _start(
            _python("include.symphonics.sandbox", "--port", str(SANDBOX_PORT), "--webhook-url", webhook_url),
            env,
            "sandbox",
            None,
        )
        save_state()
        _wait_http(f"http://127.0.0.1:{SANDBOX_PORT}/_sandbox/health", 30, "the sandbox", processes["sandbox"])
        _say(f"Symphonics sandbox on http://127.0.0.1:{SANDBOX_PORT}")
        for component in AIRFLOW_COMPONENTS:
            argv = _python("airflow", component) + (["--port", str(AIRFLOW_PORT)] if component == "api-server" else [])
            processes[component] = _start(argv, env, component, airflow_group)
            airflow_group = airflow_group or processes[component].pid
            save_state()
        _wait_http(
            f"http://localhost:{AIRFLOW_PORT}/api/v2/monitor/health", 120, "the api-server", processes["api-server"]
        )
        # After the api-server answers: a worker's tasks talk to its execution API, and two cores start one
        # component at a time faster than all at once.
        for index in range(1, workers + 1):
            # One log server per machine: the first worker's (the others' tasks log to the same folder).
            name = f"celery-worker-{index}"
            processes[name] = _start(devcelery.worker_argv(index, serve_logs=index == 1), env, name, airflow_group)
            save_state()
        if workers:
            _say(f"CeleryExecutor: {workers} workers ({devcelery.WORKER_CONCURRENCY} task processes each)")
        _say(f"Airflow UI: http://localhost:{AIRFLOW_PORT}  (local demo login: {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]})")
        _say(f"logs: {LOG_DIR}; stop with Ctrl-C or `make stop`")
        while True:
            for name, process in processes.items():
                if process.poll() is not None:
                    raise StackError(f"{name} exited (code {process.returncode}); see {LOG_DIR}/{name}.log")
            time.sleep(1)
    except KeyboardInterrupt:
        if not stopping:
            raise
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the orderly stop short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _say("stopping")
        stop(quiet=True)
    return 0


def stop(quiet: bool = False) -> int:
    """Stop the stack: Airflow's process group, then the sandbox, then the embedded PostgreSQL.

    From another terminal (``make stop``) the running ``make run`` is asked to stop, and does it in that
    order itself; with no live runner (it crashed), what it left is stopped here.
    """
    state = _read_state() or {}
    runner = state.get("runner_pid")
    if isinstance(runner, int) and runner != os.getpid() and process_alive(runner):
        os.kill(runner, signal.SIGTERM)
        deadline = time.monotonic() + 90
        while process_alive(runner) and time.monotonic() < deadline:
            time.sleep(0.3)
        state = _read_state() or {}
    pgid = state.get("airflow_pgid")
    if isinstance(pgid, int):
        _terminate_group(pgid)
    sandbox_pid = state.get("sandbox_pid")
    if isinstance(sandbox_pid, int) and process_alive(sandbox_pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(sandbox_pid, signal.SIGTERM)
    redis_pid = state.get("redis_pid")  # only a redis-server this stack started; a shared one stays
    if isinstance(redis_pid, int) and process_alive(redis_pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(redis_pid, signal.SIGTERM)
    stopped_pg = localpg.stop_embedded(LOCAL_DIR / "pg")
    STATE_FILE.unlink(missing_ok=True)
    if not quiet:
        print("stopped" if (state or stopped_pg or runner) else "nothing was running")
    return 0


def status() -> int:
    """Say what is running."""
    state = _read_state()
    if not _stack_running(state):
        print("not running")
        return 0
    assert state is not None
    executor = state.get("executor") or "local"
    print(f"running (pid {state['runner_pid']}): Airflow UI http://localhost:{AIRFLOW_PORT}, {executor} executor")
    workers = state.get("workers")
    broker_url = state.get("broker_url")
    if executor == "celery" and isinstance(workers, dict) and isinstance(broker_url, str):
        answering = devcelery.live_workers(broker_url)
        print(f"Celery broker {devcelery.redact_url(broker_url)}; {len(answering)} of {len(workers)} workers answer")
        for name, pid in sorted(workers.items()):
            alive = isinstance(pid, int) and process_alive(pid)
            node = devcelery.WORKER_NAME.format(index=name.rsplit("-", 1)[-1])
            answers = any(reply.startswith(f"{node}@") for reply in answering)
            print(f"  {name}: pid {pid} {'alive' if alive else 'gone'}, {'answers' if answers else 'does not answer'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.symphonics.devstack", description=__doc__)
    parser.add_argument("command", choices=["run", "stop", "status"])
    args = parser.parse_args(argv)
    try:
        return {"run": run, "stop": stop, "status": status}[args.command]()
    except (StackError, localpg.PostgresUnavailable, devcelery.CeleryConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
