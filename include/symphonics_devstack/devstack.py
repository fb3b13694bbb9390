"""``make run`` / ``make stop`` / ``make status``: the whole stack on one machine, for the demo and for work.

``run`` starts PostgreSQL (embedded unless ``SYMPHONICS_PG_URL`` is set; also on a loopback TCP port, password
only, for analysts), migrates Airflow and the ``sync`` database, gives each service its database login (the
webhook receiver, the dashboard and the pipeline connect as their least-privilege roles; passwords generated into
``.local/secrets/``) and the analysts a demo login, applies ``airflow_settings.yaml``, seeds the app's demo data,
starts the Symphonics sandbox and Airflow's four components (api-server, scheduler, dag-processor, triggerer) in a
process group of their own (with ``SYMPHONICS_EXECUTOR=celery``, the CeleryExecutor and
``SYMPHONICS_CELERY_WORKERS`` workers, default 2, with a Redis broker: see ``devcelery``), runs a first reconcile
once the demo's first publish has succeeded, then waits.
Ctrl-C or ``make stop`` ends the Airflow group first, then the sandbox, then PostgreSQL (whose "smart" shutdown
would otherwise wait for Airflow's pooled connections).

Every problem a newcomer can meet (a port taken, an old Python, a server that does not answer) is one
line saying what is wrong and what to do.

Secure by default: every listener (api-server, the log servers, the sandbox) binds 127.0.0.1, unless
``SYMPHONICS_BIND_HOST`` names another address, which is said loudly. Airflow's own log servers listen on every
interface with no setting to change it, so the scheduler and the triggerer run with ``--skip-serve-logs`` and
one log server of ours serves both ports on the bind address. What ``make run`` writes under ``.local/`` is
private (umask 077: files 0600, folders 0700); its secrets (Fernet key, JWT and API secret keys, the sandbox's
admin token) are generated once, each in a 0600 file.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import secrets
import shlex
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from include.symphonics.db import roles
from include.symphonics_devstack import devcelery, localfiles, localpg

LOCAL_DIR = localpg.LOCAL_DIR
AIRFLOW_HOME = LOCAL_DIR / "airflow"
LOG_DIR = LOCAL_DIR / "logs"
STATE_FILE = LOCAL_DIR / "run.json"
#: The running stack's Airflow settings, for Airflow's CLI in another shell (``. .local/airflow.env``, or
#: ``make airflow ARGS="dags list"``): written by ``make run``, private (it holds the stack's keys), removed by
#: ``make stop``.
CLI_ENV_FILE = LOCAL_DIR / "airflow.env"
SANDBOX_ADMIN_TOKEN_FILE = LOCAL_DIR / "sandbox_admin.token"
PROJECT_ROOT = localpg.PROJECT_ROOT

AIRFLOW_PORT = int(os.environ.get("SYMPHONICS_AIRFLOW_PORT", "8080"))
SANDBOX_PORT = int(os.environ.get("SYMPHONICS_SANDBOX_PORT", "8099"))
WORKER_LOG_PORT = int(os.environ.get("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT", "8793"))
TRIGGER_LOG_PORT = int(os.environ.get("AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT", "8794"))
BIND_HOST_ENV = "SYMPHONICS_BIND_HOST"
BIND_HOST = os.environ.get(BIND_HOST_ENV) or "127.0.0.1"
DEMO_INTERVENTIONS = int(os.environ.get("SYMPHONICS_DEMO_INTERVENTIONS", "300"))
# What make run gives the scheduler and the completion watcher unless the environment says otherwise.
SCHEDULER_IDLE_SLEEP_SECONDS = "0.25"
WATCHER_POLL_SECONDS = "1"
# A local demo login, documented in the README; a real deployment uses its own auth manager.
DEMO_LOGIN = ("admin", "admin")
# The api-server first (the others call its execution API), then the rest, then our log server.
LATER_COMPONENTS = ("scheduler", "dag-processor", "triggerer")
SANDBOX_ADMIN_TOKEN_ENV = "SYMPHONICS_SANDBOX_ADMIN_TOKEN"  # noqa: S105 - the name of a variable, not a secret
MODULE = "include.symphonics_devstack.devstack"  # not __name__, which is "__main__" under `python -m`


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def connect_host(bind_host: str = BIND_HOST) -> str:
    """The address the stack's own processes use to reach a listener bound to ``bind_host``."""
    return "127.0.0.1" if is_loopback(bind_host) or bind_host in ("0.0.0.0", "::") else bind_host  # noqa: S104


def loopback_hostname() -> str:
    """Airflow's ``hostname_callable`` for a stack bound to loopback: the api-server then fetches a running
    task's log from the log server where it listens (``socket.getfqdn()`` may name a non-loopback address)."""
    return "127.0.0.1"


#: Seconds ``make run`` waits for the demo's first successful publish before its first reconcile.
FIRST_RECONCILE_WAIT = 1800.0


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
    from cryptography.fernet import Fernet

    localfiles.private_dir(AIRFLOW_HOME)
    return localfiles.read_or_create_secret(AIRFLOW_HOME / "fernet.key", lambda: Fernet.generate_key().decode())


def _signing_key(name: str) -> str:
    """A 64-byte HMAC key, generated once (Airflow's own default has 24, which PyJWT warns about for HS512)."""
    localfiles.private_dir(AIRFLOW_HOME)
    return localfiles.read_or_create_secret(AIRFLOW_HOME / name, lambda: secrets.token_hex(32))


def sandbox_admin_token() -> str:
    """The sandbox's admin token, generated once in ``.local/sandbox_admin.token`` (0600)."""
    if not LOCAL_DIR.exists():
        localfiles.private_dir(LOCAL_DIR)  # an existing one keeps the mode close_local_dir gave it
    return localfiles.read_or_create_secret(SANDBOX_ADMIN_TOKEN_FILE, lambda: secrets.token_urlsafe(32))


#: A login and its password.
Login = tuple[str, str]


def service_logins(server: localpg.PgServer) -> dict[str, Login]:
    """The login of each service role on the embedded server, its password generated once into ``.local/secrets``.

    Empty for a server of the user's own (``SYMPHONICS_PG_URL``): its user is used, and its DBA grants the roles
    (README, "Database roles").
    """
    if server.embedded_dir is None:
        return {}
    folder = localpg.secrets_dir(server.embedded_dir)
    return {
        role: (login, localpg.local_secret(folder, f"{login}.password")) for role, login in roles.SERVICE_LOGINS.items()
    }


def _conninfo(server: localpg.PgServer, database: str, login: Login) -> str:
    from psycopg.conninfo import make_conninfo

    admin = urlsplit(server.admin_url)
    return make_conninfo(
        host=server.socket_dir or admin.hostname or "localhost",
        port=str(admin.port or 5432),
        dbname=database,
        user=login[0],
        password=login[1],
    )


def create_logins(server: localpg.PgServer, logins: dict[str, Login]) -> None:
    """Make the services' logins and the analysts' demo login (after the migrations made their roles)."""
    import psycopg

    if not logins:
        return
    with psycopg.connect(server.admin_url, autocommit=True) as conn:
        for role, (login, password) in logins.items():
            roles.ensure_login(conn, login, role, password)
        roles.ensure_login(conn, roles.DEMO_ANALYST_LOGIN, roles.ANALYST_ROLE, roles.DEMO_ANALYST_PASSWORD)
        roles.connect_to_sync_only(conn)


def analyst_url(tcp_port: int) -> str:
    """The demo analyst's connection URL to the ``sync`` database over loopback TCP (a DEMO password)."""
    return localpg.PgServer(admin_url="", tcp_port=tcp_port).tcp_url(
        "sync", roles.DEMO_ANALYST_LOGIN, roles.DEMO_ANALYST_PASSWORD
    )


def stack_environment(server: localpg.PgServer, logins: dict[str, Login] | None = None) -> dict[str, str]:
    """The environment every process of the stack runs with.

    :param logins: the services' logins (:func:`service_logins`); without them, everything connects as the
        server's user.
    """
    admin = urlsplit(server.admin_url)
    local_url = f"http://{connect_host()}:{AIRFLOW_PORT}"
    loopback_only = (
        {"AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{MODULE}.loopback_hostname"} if is_loopback(BIND_HOST) else {}
    )
    logins = logins or {}
    admin_login = (admin.username or "postgres", admin.password or "")
    pipeline = logins.get(roles.PIPELINE_ROLE, admin_login)
    per_service = {}
    if roles.RECEIVER_ROLE in logins:
        # The receiver (mounted by the api-server) and the dashboard connect as their own roles.
        per_service["SYMPHONICS_SYNC_DSN"] = _conninfo(server, "sync", logins[roles.RECEIVER_ROLE])
    if roles.DASHBOARD_ROLE in logins:
        per_service["SYMPHONICS_DASHBOARD_DSN"] = _conninfo(server, "sync", logins[roles.DASHBOARD_ROLE])
    return {
        **loopback_only,
        **per_service,
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
        # The connections' Test button (Airflow's default: Disabled); see the README for a shared deployment.
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        # Freshness (docs/PERFORMANCE.md): an idle scheduler loop sleeps 0.25 s, not 1 s, before it creates the
        # run of a watcher's event or starts a run's next task; the watcher probes every second.
        "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": os.environ.get(
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME", SCHEDULER_IDLE_SLEEP_SECONDS
        ),
        "SYMPHONICS_WATCHER_POLL_SECONDS": os.environ.get("SYMPHONICS_WATCHER_POLL_SECONDS", WATCHER_POLL_SECONDS),
        "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
        # The erasure's index key (docs/PERSONAL_DATA.md), generated once for this local stack.
        "AIRFLOW_CONN_SYMPHONICS_SUBJECT_KEYS": json.dumps(
            {"conn_type": "generic", "password": _signing_key("subject_key")}
        ),
        "AIRFLOW__API_AUTH__JWT_SECRET": _signing_key("jwt_secret"),
        "AIRFLOW__API__SECRET_KEY": _signing_key("api_secret_key"),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{DEMO_LOGIN[0]}:admin",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{local_url}/execution/",
        "AIRFLOW__API__HOST": BIND_HOST,
        "AIRFLOW__API__PORT": str(AIRFLOW_PORT),
        "AIRFLOW__API__BASE_URL": f"http://localhost:{AIRFLOW_PORT}",  # what the README and the browser use
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": server.sqlalchemy_url("airflow"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(LOG_DIR / "tasks"),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(WORKER_LOG_PORT),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(TRIGGER_LOG_PORT),
        # Airflow chmods the task log folders and files it creates (0775/0664 by default): private here.
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": "0o700",
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": "0o600",
        # OpenLineage off unless asked for (docs/OPERATIONS.md, "Lineage"): a transport alone would turn it on.
        "AIRFLOW__OPENLINEAGE__DISABLED": os.environ.get("AIRFLOW__OPENLINEAGE__DISABLED", "true"),
        "SYMPHONICS_PG_HOST": server.socket_dir or admin.hostname or "localhost",
        "SYMPHONICS_PG_PORT": str(admin.port or ""),
        "SYMPHONICS_PG_USER": admin.username or "postgres",
        "SYMPHONICS_PG_PASSWORD": admin.password or "",
        # The pipeline's connection to the sync database (sync_db in airflow_settings.yaml).
        "SYMPHONICS_SYNC_USER": pipeline[0],
        "SYMPHONICS_SYNC_PASSWORD": pipeline[1],
        "SYMPHONICS_SANDBOX_PORT": str(SANDBOX_PORT),
        "SYMPHONICS_SANDBOX_URL": f"http://{connect_host()}:{SANDBOX_PORT}",
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
    localfiles.private_dir(LOG_DIR)
    log_path = LOG_DIR / f"{log_name}.log"
    if log_path.exists() and stat.S_IMODE(log_path.stat().st_mode) & 0o077:
        log_path.chmod(0o600)  # a log an older version left readable by others
    log_file = log_path.open("ab")
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


def _prepare(env: dict[str, str], server: localpg.PgServer, logins: dict[str, Login]) -> None:
    from include.symphonics.db import migrate

    _run_step("migrating Airflow's metadata database", _python("airflow", "db", "migrate"), env)
    _say("migrating the sync database")
    migrate.upgrade(server.url("sync"))
    if logins:
        _say("database logins: " + ", ".join(f"{login} (in {role})" for role, (login, _) in logins.items()))
        create_logins(server, logins)
    _run_step(
        "applying airflow_settings.yaml",
        _python("include.symphonics_devstack.airflow_settings", "--file", str(PROJECT_ROOT / "airflow_settings.yaml")),
        env,
    )
    app_env = {**env, "SYMPHONICS_APP_DSN": server.url("app")}
    _run_step("applying the app's reference schema", _python("include.symphonics_demo", "init-schema"), app_env)
    if _app_is_empty(server.url("app")):
        _run_step(
            f"seeding {DEMO_INTERVENTIONS} demo interventions",
            _python("include.symphonics_demo", "seed", "--interventions", str(DEMO_INTERVENTIONS), "--seed", "42"),
            app_env,
        )


def _app_is_empty(app_url: str) -> bool:
    import psycopg

    with psycopg.connect(app_url) as conn:
        row = conn.execute("SELECT NOT EXISTS (SELECT 1 FROM interventions)").fetchone()
    return bool(row and row[0])


def _airflow_api(method: str, path: str, body: dict[str, object] | None = None, token: str | None = None) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        f"http://localhost:{AIRFLOW_PORT}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers=headers,
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (a loopback URL we built)
        return json.loads(response.read() or b"{}")


def _runs(dag_id: str, token: str, state: str | None = None) -> list[dict[str, Any]]:
    query = f"?limit=5&order_by=-start_date{f'&state={state}' if state else ''}"
    return list(_airflow_api("GET", f"/api/v2/dags/{dag_id}/dagRuns{query}", token=token)["dag_runs"])


def first_reconcile(stop_event: threading.Event, wait_seconds: float = FIRST_RECONCILE_WAIT) -> None:
    """Once the demo's first publish run has succeeded, run the reconciliation once, so the live analyst views
    (``analytics.interventions_current``, ``analytics.rejections``) and the dashboard have data before the night.

    A publish run is triggered if none has started a minute after the start. The reconcile is triggered with
    ``snapshot_date`` today: the snapshot of a date stays the state at 02:00 (docs/ANALYTICS.md). Never fatal:
    a slow or refused request is tried again at the next step (a loaded machine answers late); what is left at
    the deadline is said, and the stack runs on.
    """
    deadline = time.monotonic() + wait_seconds
    trigger_publish_at: float | None = time.monotonic() + 60
    reconcile_run: str | None = None
    last_problem = ""
    while not stop_event.wait(10):
        if time.monotonic() > deadline:
            what = "the first reconcile did not finish" if reconcile_run else "no publish run succeeded"
            _say(f"{what} in time{f' ({last_problem})' if last_problem else ''}: see the Airflow UI")
            return
        try:
            token = _airflow_api("POST", "/auth/token", {"username": DEMO_LOGIN[0], "password": DEMO_LOGIN[1]})
            token = token["access_token"]
            if reconcile_run is None:
                if not _runs("symphonics_publish", token, "success"):
                    if trigger_publish_at is not None and time.monotonic() > trigger_publish_at:
                        trigger_publish_at = None
                        if not _runs("symphonics_publish", token):
                            body: dict[str, object] = {
                                "logical_date": datetime.now(UTC).isoformat(),
                                "note": "the demo's publish",
                            }
                            run = _airflow_api("POST", "/api/v2/dags/symphonics_publish/dagRuns", body, token)
                            _say(f"the demo's publish triggered ({run['dag_run_id']})")
                    continue
                today = datetime.now(ZoneInfo("Europe/Paris")).date().isoformat()
                body = {
                    "logical_date": datetime.now(UTC).isoformat(),
                    "conf": {"snapshot_date": today},
                    "note": "first reconcile after the demo's publish (make run)",
                }
                run = _airflow_api("POST", "/api/v2/dags/symphonics_reconcile/dagRuns", body, token)
                reconcile_run = str(run["dag_run_id"])
                _say(f"the demo's publish succeeded: first reconcile triggered ({reconcile_run})")
                continue
            state = _airflow_api("GET", f"/api/v2/dags/symphonics_reconcile/dagRuns/{reconcile_run}", token=token)
            if state["state"] == "success":
                _say("first reconcile succeeded: the live analyst views and the rejection query have data")
                return
            if state["state"] == "failed":
                _say(f"first reconcile failed: see its run {reconcile_run} in the Airflow UI")
                return
        except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
            last_problem = f"{type(exc).__name__}: {exc}"


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
        (WORKER_LOG_PORT, "the task log server", "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"),
        (TRIGGER_LOG_PORT, "the triggerer log server", "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"),
    ):
        if _port_taken(port):
            raise StackError(
                f"port {port} (for {what}) is already in use: stop what uses it, or set {variable}=<free port>"
            )
    if not is_loopback(BIND_HOST):
        _say(
            f"WARNING: {BIND_HOST_ENV}={BIND_HOST}: the Airflow UI and API "
            f"(demo login {DEMO_LOGIN[0]}/{DEMO_LOGIN[1]}), its webhook receiver (demo secret), the log servers "
            "and the sandbox are reachable from other machines. Unset it to keep them on 127.0.0.1."
        )
    # Everything written from here on (by this process and the ones it starts) is private to this user.
    os.umask(localfiles.PRIVATE_UMASK)

    processes: dict[str, subprocess.Popen[bytes]] = {}
    airflow_group: int | None = None
    broker: devcelery.Broker | None = None
    stopping = False
    tcp_port = None if os.environ.get(localpg.PG_URL_ENV) else localpg.tcp_port_from_environment()
    reconcile_stop = threading.Event()

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
                    "pg_tcp_port": tcp_port,
                    "airflow_port": AIRFLOW_PORT,
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
        server = start_postgres(tcp_port, before_start=save_state)
        where = f"embedded, data in {server.embedded_dir}" if server.embedded_dir else "from SYMPHONICS_PG_URL"
        if server.tcp_port:
            where += f"; TCP 127.0.0.1:{server.tcp_port}, password only"
        _say(f"PostgreSQL ready ({where})")
        server.ensure_databases(localpg.DATABASES)
        logins = service_logins(server)
        settings = stack_environment(server, logins)
        if executor == "celery":
            broker = devcelery.find_broker(LOCAL_DIR / "redis", LOG_DIR / "redis.log")
            save_state()
            _say(f"Celery broker: {broker.how}")
            settings.update(devcelery.celery_environment(broker.url, server.sqlalchemy_url("airflow")))
        env = {**os.environ, **settings}
        write_cli_environment(settings)
        localfiles.private_dir(LOG_DIR)
        localfiles.write_secret(
            AIRFLOW_HOME / "simple_auth_manager_passwords.json.generated", json.dumps({DEMO_LOGIN[0]: DEMO_LOGIN[1]})
        )
        _prepare(env, server, logins)

        # The sandbox delivers its signed webhooks to the receiver the api-server mounts (plugins/). Its admin
        # token goes through the environment of its process only, never a command line.
        local = connect_host()
        webhook_url = f"http://{local}:{AIRFLOW_PORT}/symphonics/webhooks"
        processes["sandbox"] = _start(
            _python(
                "include.symphonics_sandbox",
                *("--host", BIND_HOST, "--port", str(SANDBOX_PORT), "--webhook-url", webhook_url),
            ),
            {**env, SANDBOX_ADMIN_TOKEN_ENV: sandbox_admin_token()},
            "sandbox",
            None,
        )
        save_state()
        _wait_http(f"http://{local}:{SANDBOX_PORT}/_sandbox/health", 30, "the sandbox", processes["sandbox"])
        _say(f"Symphonics sandbox on http://{local}:{SANDBOX_PORT} (admin token in {SANDBOX_ADMIN_TOKEN_FILE})")
        processes["api-server"] = _start(
            _python("airflow", "api-server", "--host", BIND_HOST, "--port", str(AIRFLOW_PORT)), env, "api-server", None
        )
        airflow_group = processes["api-server"].pid
        save_state()
        _wait_http(
            f"http://{local}:{AIRFLOW_PORT}/api/v2/monitor/health", 300, "the api-server", processes["api-server"]
        )
        # The first call to the execution API builds its token validator: made here, not by the first task,
        # whose calls would time out behind it and be retried with a WARNING each.
        _wait_http(
            f"http://{local}:{AIRFLOW_PORT}/execution/health/ping", 120, "the execution API", processes["api-server"]
        )
        for component in LATER_COMPONENTS:
            argv = _python("airflow", component)
            if component in ("scheduler", "triggerer"):
                argv.append("--skip-serve-logs")  # Airflow's log server binds every interface: ours is below
            processes[component] = _start(argv, env, component, airflow_group)
            save_state()
        processes["log-server"] = _start(
            _python(
                MODULE,
                *("serve-logs", "--host", BIND_HOST, "--port", str(WORKER_LOG_PORT), "--port", str(TRIGGER_LOG_PORT)),
            ),
            env,
            "log-server",
            airflow_group,
        )
        save_state()
        # After the api-server answers: a worker's tasks talk to its execution API, and two cores start one
        # component at a time faster than all at once.
        for index in range(1, workers + 1):
            # Our loopback log server below serves every task log of this machine: no worker serves its own.
            name = f"celery-worker-{index}"
            processes[name] = _start(devcelery.worker_argv(index, serve_logs=False), env, name, airflow_group)
            save_state()
        if workers:
            _say(f"CeleryExecutor: {workers} workers ({devcelery.WORKER_CONCURRENCY} task processes each)")
        _say(f"Airflow UI: http://localhost:{AIRFLOW_PORT}  (local demo login: {DEMO_LOGIN[0]} / {DEMO_LOGIN[1]})")
        if server.tcp_port:
            _say(f"analysts (DEMO password, this machine only): psql '{analyst_url(server.tcp_port)}'")
        _say(f"logs: {LOG_DIR}; stop with Ctrl-C or `make stop`")
        threading.Thread(target=first_reconcile, args=(reconcile_stop,), name="first-reconcile", daemon=True).start()
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
        reconcile_stop.set()
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
    CLI_ENV_FILE.unlink(missing_ok=True)
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
    # The port the stack was started on (this shell may not have its SYMPHONICS_AIRFLOW_PORT).
    port = state.get("airflow_port") or AIRFLOW_PORT
    print(f"running (pid {state['runner_pid']}): Airflow UI http://localhost:{port}, {executor} executor")
    print(f"Airflow CLI, in another shell: . {CLI_ENV_FILE}   then: airflow dags list")
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
    tcp_port = state.get("pg_tcp_port")
    if isinstance(tcp_port, int):
        print(f"analysts (DEMO password, this machine only): psql '{analyst_url(tcp_port)}'")
    return 0


def write_cli_environment(settings: dict[str, str]) -> None:
    """Write the stack's settings (:func:`stack_environment`'s) to :data:`CLI_ENV_FILE`: ``export KEY='value'``
    lines a shell sources (``. .local/airflow.env``, which also puts ``.venv/bin`` first on its ``PATH``, so the
    docs' ``airflow ...`` lines run as written) and :func:`airflow_cli` reads.

    :param settings: the variables.
    """
    lines = ["# make run's settings for Airflow's CLI, in another shell: . .local/airflow.env (see the README)"]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in sorted(settings.items())]
    lines.append(f'export PATH={shlex.quote(os.path.dirname(sys.executable))}:"$PATH"')
    localfiles.write_secret(CLI_ENV_FILE, "\n".join(lines) + "\n")


def read_cli_environment() -> dict[str, str]:
    """The settings :func:`write_cli_environment` wrote (its ``PATH`` line aside).

    :raises StackError: when the stack is not running (no file).
    """
    if not _stack_running(_read_state()) or not CLI_ENV_FILE.exists():
        raise StackError("the stack is not running: start it with `make run` (in another shell), then try again")
    settings = {}
    for line in CLI_ENV_FILE.read_text().splitlines():
        if line.startswith("export ") and not line.startswith("export PATH="):
            key, _, quoted = line.removeprefix("export ").partition("=")
            settings[key] = shlex.split(quoted)[0] if quoted else ""
    return settings


def airflow_cli(args: list[str]) -> int:
    """Airflow's CLI against the running stack (its database, its Airflow home, its keys): ``make airflow ARGS=...``.

    :param args: the CLI's arguments (``dags list``, ``dags trigger symphonics_publish --conf '{...}'``...).
    """
    env = {**os.environ, **read_cli_environment()}
    return subprocess.run(_python("airflow", *args), env=env, check=False).returncode


def start_postgres(tcp_port: int | None, before_start: Callable[[], None] = lambda: None) -> localpg.PgServer:
    """The stack's PostgreSQL (embedded in ``.local/pg`` unless ``SYMPHONICS_PG_URL`` is set), ``.local/`` private.

    :param tcp_port: the loopback TCP port for analysts, or None.
    :param before_start: called once ``.local/`` exists, before the server starts (the runner saves its state).
    """
    localfiles.private_dir(LOCAL_DIR)
    # Also before the start: a restarted embedded server is reached by pgserver's own user through .local/.
    close_local_dir()
    before_start()
    server = localpg.get_server(LOCAL_DIR / "pg", tcp_port=tcp_port)
    close_local_dir()
    return server


def close_local_dir() -> None:
    """Make ``.local/`` private again after the embedded PostgreSQL started.

    Run as root, pgserver starts the server as a system user of its own and opens every folder above its
    data folder to everyone (0755) so that user can reach it. That user still needs to pass through (``x``),
    to reach its data folder when it is stopped, so ``.local/`` becomes 0711 then: nobody else can list it,
    and what is in it is 0700 or 0600. Otherwise it is 0700.
    """
    if not LOCAL_DIR.exists():
        return
    LOCAL_DIR.chmod(0o711 if os.geteuid() == 0 else localfiles.PRIVATE_DIR_MODE)


def serve_logs(host: str, ports: list[int]) -> None:
    """Serve the task and triggerer logs (Airflow's own log-server app) on ``host``, on each of ``ports``.

    :param host: the bind address (Airflow's ``serve_logs`` has none: it takes every interface).
    :param ports: the worker's and the triggerer's log-server ports.
    """
    import uvicorn

    sockets = []
    for port in ports:
        listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host.strip("[]"), port))
        sockets.append(listener)
    config = uvicorn.Config(
        "airflow.utils.serve_logs.log_server:get_app",
        factory=True,
        log_level="warning",
        log_config=None,
        access_log=False,
        server_header=False,
    )
    uvicorn.Server(config).run(sockets=sockets)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.symphonics_devstack", description=__doc__)
    parser.add_argument("command", choices=["run", "stop", "status", "serve-logs", "airflow"])
    parser.add_argument("--host", default=BIND_HOST, help="serve-logs: the address to bind")
    parser.add_argument("--port", type=int, action="append", default=[], help="serve-logs: a port (repeatable)")
    raw = sys.argv[1:] if argv is None else argv
    if raw[:1] == ["airflow"]:
        # Everything after it is Airflow's: argparse must not read its options.
        try:
            return airflow_cli(raw[1:])
        except StackError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    args = parser.parse_args(raw)
    if args.command == "serve-logs":
        serve_logs(args.host, args.port)
        return 0
    try:
        return {"run": run, "stop": stop, "status": status}[args.command]()
    except (StackError, localpg.PostgresUnavailable, devcelery.CeleryConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
