"""The PostgreSQL server behind ``make run`` and ``make test``.

By default an embedded PostgreSQL 16 (the ``pgserver`` wheel) is started with its data under ``.local/``.
It listens on a unix socket, whose folder is read from the running server (``postmaster.pid``), never
written into a checked-in file. ``make run`` also opens it on a loopback TCP port (``SYMPHONICS_PG_TCP_PORT``,
55432 by default, so a machine's own PostgreSQL on 5432 is left alone) for analysts' tools, with password
authentication: pgserver initialises its cluster with ``trust`` for 127.0.0.1, which on TCP would make anyone
a password-less superuser, so the project writes its own ``pg_hba.conf`` (the socket as pgserver has it,
scram-sha-256 on TCP) and gives ``postgres`` a generated password kept in ``.local/secrets/`` (mode 0600).

When ``SYMPHONICS_PG_URL`` holds the URL of a server of the user's own
(``postgresql://user:password@host:5432``), nothing is started and that server is used instead.

The project keeps three databases apart, as in production where the app's database is not ours:
``airflow`` (Airflow metadata), ``app`` (the Workforce Automation App) and ``sync`` (this project's ledger).
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import shutil
import socket
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)
# pgserver logs every handle at INFO, also from atexit after logging has shut down.
logging.getLogger("pgserver").setLevel(logging.WARNING)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCAL_DIR = Path(os.environ.get("SYMPHONICS_LOCAL_DIR", PROJECT_ROOT / ".local"))
PG_URL_ENV = "SYMPHONICS_PG_URL"
PG_TCP_PORT_ENV = "SYMPHONICS_PG_TCP_PORT"
#: Not 5432: the machine may run a PostgreSQL of its own there.
DEFAULT_TCP_PORT = 55432
DATABASES = ("airflow", "app", "sync")
SUPERUSER = "postgres"
TCP_HOST = "127.0.0.1"
#: Connections kept for the services' logins (``pg_use_reserved_connections``, PostgreSQL 16 like pgserver's) when
#: the server listens on TCP for analysts: people's logins find the server full before the services do.
RESERVED_CONNECTIONS = 10

# The embedded server's client authentication, written on every start (pgserver's initdb trusts 127.0.0.1).
# The socket lives in the server's own data folder (mode 0700), as pgserver sets it up; TCP needs a password.
PG_HBA = """# Written by include/symphonics_devstack/localpg.py on every start: do not edit (changes would be lost).
# TYPE  DATABASE  USER  ADDRESS        METHOD
local   all       all                  trust
host    all       all   127.0.0.1/32   scram-sha-256
host    all       all   ::1/128        scram-sha-256
"""

# Settings for a throw-away development server: durability is traded for speed. All three take effect on
# a reload, so the server is never restarted behind pgserver's back (its handle tracks the postmaster's pid).
_EMBEDDED_SETTINGS = (
    "ALTER SYSTEM SET fsync = off;",
    "ALTER SYSTEM SET synchronous_commit = off;",
    "ALTER SYSTEM SET full_page_writes = off;",
    "SELECT pg_reload_conf();",
)


class PostgresUnavailable(RuntimeError):
    """The configured PostgreSQL cannot be started or reached; the message says what to do."""


@dataclass(frozen=True)
class PgServer:
    """A reachable PostgreSQL server.

    :param admin_url: URL of the server's maintenance database (``postgres``).
    :param embedded_dir: data folder of the embedded server, ``None`` for a user-supplied server.
    :param tcp_port: the loopback TCP port the embedded server also listens on (password only), if any.
    """

    admin_url: str
    embedded_dir: Path | None = None
    tcp_port: int | None = None

    def url(self, database: str) -> str:
        """URL of ``database`` on this server (libpq form, accepted by psycopg and SQLAlchemy)."""
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    def sqlalchemy_url(self, database: str) -> str:
        """URL of ``database`` for SQLAlchemy with the psycopg2 driver (Airflow's metadata database)."""
        url = self.url(database)
        return "postgresql+psycopg2://" + url.split("://", 1)[1]

    def tcp_url(self, database: str, user: str, password: str) -> str:
        """URL of ``database`` over loopback TCP as ``user`` (for analysts' tools; needs :attr:`tcp_port`).

        :param database: the database.
        :param user: the login.
        :param password: its password (part of the URL: print it only for a demo login).
        """
        if self.tcp_port is None:
            raise PostgresUnavailable("this server does not listen on TCP (an embedded server started without it)")
        return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{TCP_HOST}:{self.tcp_port}/{database}"

    @property
    def socket_dir(self) -> str | None:
        """The unix-socket folder of the embedded server (``None`` for a TCP server)."""
        query = dict(parse_qsl(urlsplit(self.admin_url).query))
        return query.get("host")

    def ensure_databases(self, names: tuple[str, ...] | list[str], *, recreate: bool = False) -> None:
        """Create the databases that are missing (all of them, empty, when ``recreate``)."""
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            existing = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
            for name in names:
                if recreate and name in existing:
                    conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
                    existing.discard(name)
                if name not in existing:
                    conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def _with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(params)
    return urlunsplit(parts._replace(query=urlencode(query)))


def check_reachable(url: str) -> None:
    """Raise :class:`PostgresUnavailable` with one clear line when ``url`` does not answer."""
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        safe = urlsplit(url)._replace(netloc=urlsplit(url).hostname or "").geturl()
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PostgresUnavailable(
            f"PostgreSQL at {safe} does not answer ({first_line}). Check {PG_URL_ENV}, or unset it to use "
            "the embedded server."
        ) from exc


def _import_pgserver() -> Any:
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells) and falls back to /tmp.
        warnings.simplefilter("ignore")
        import pgserver  # heavy import, only where the embedded server is wanted
        import pgserver._commands
        import pgserver.postgres_server
        import pgserver.utils
    return pgserver


def tcp_port_from_environment() -> int:
    """The loopback TCP port ``make run`` opens the embedded server on (``SYMPHONICS_PG_TCP_PORT``)."""
    raw = os.environ.get(PG_TCP_PORT_ENV, str(DEFAULT_TCP_PORT))
    try:
        port = int(raw)
    except ValueError:
        port = 0
    if not 1024 <= port <= 65535:
        raise PostgresUnavailable(f"{PG_TCP_PORT_ENV}={raw!r} is not a port number between 1024 and 65535")
    return port


def secrets_dir(data_dir: Path) -> Path:
    """The folder (mode 0700) of the generated passwords of the embedded server in ``data_dir``."""
    return data_dir.parent / "secrets"


def local_secret(folder: Path, name: str) -> str:
    """The generated secret ``name`` in ``folder``, made on first use (folder 0700, file 0600, never world-readable).

    :param folder: e.g. :func:`secrets_dir`.
    :param name: the file's name.
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    path = folder / name
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    value = secrets.token_urlsafe(24)
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def superuser_password(data_dir: Path) -> str:
    """The generated password of ``postgres`` on the embedded server in ``data_dir`` (needed over TCP only)."""
    return local_secret(secrets_dir(data_dir), "postgres.password")


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((TCP_HOST, port)) == 0


def _postmaster(data_dir: Path) -> Any:
    return _import_pgserver().utils.PostmasterInfo.read_from_pgdata(data_dir.resolve())


def _write_hba(data_dir: Path) -> None:
    hba = data_dir / "pg_hba.conf"
    if hba.read_text() != PG_HBA:
        # Written in place: the file keeps the owner and mode initdb gave it (the server's user reads it).
        with hba.open("r+") as handle:
            handle.write(PG_HBA)
            handle.truncate()


def _start_listening(data_dir: Path, tcp_port: int) -> None:
    """Start the stopped server in ``data_dir`` on its socket and on loopback TCP (pgserver then adopts it)."""
    pgserver = _import_pgserver()
    if _port_in_use(tcp_port):
        raise PostgresUnavailable(
            f"port {tcp_port} (for the embedded PostgreSQL) is already in use: stop what uses it, or set "
            f"{PG_TCP_PORT_ENV}=<free port>"
        )
    socket_dir = pgserver.utils.find_suitable_socket_dir(
        data_dir.resolve(), pgserver.postgres_server.PostgresServer.runtime_path
    )
    started = _pg_ctl(
        data_dir,
        "-w",
        "-o",
        f'-h "{TCP_HOST}"',
        "-o",
        f"-p {tcp_port}",
        "-o",
        f"-k {socket_dir}",
        "-o",
        f"-c reserved_connections={RESERVED_CONNECTIONS}",
        "-l",
        str(data_dir / "log"),
        "start",
    )
    if not started:
        raise PostgresUnavailable(f"the embedded PostgreSQL in {data_dir} did not start on port {tcp_port}")


def start_embedded(data_dir: Path, *, keep_running: bool = True, tcp_port: int | None = None) -> PgServer:
    """Start (or find running) the embedded server whose data lives in ``data_dir``.

    :param keep_running: leave the server running when this process exits (``make run``); otherwise it
        stops when the last process that started or found it exits (tests, benchmarks).
    :param tcp_port: also listen on this loopback port, password only (``make run``); ``None``: the socket only.
        A server found running without it is restarted with it.
    """
    pgserver = _import_pgserver()

    data_dir.mkdir(parents=True, exist_ok=True)
    if any(data_dir.iterdir()) and not (data_dir / "PG_VERSION").exists():
        # initdb never finished (a crash or Ctrl-C during the first start): nothing is in there yet.
        log.warning("%s was half-initialised; starting it afresh", data_dir)
        shutil.rmtree(data_dir)
        data_dir.mkdir(parents=True)
    first_start = not (data_dir / "PG_VERSION").exists()
    if not (data_dir / "postmaster.pid").exists():
        # pgserver caches one handle per folder per process; after a stop that handle points at nothing.
        pgserver.postgres_server.PostgresServer._instances.pop(data_dir.resolve(), None)
    try:
        if tcp_port is not None and not first_start:
            _write_hba(data_dir)  # before the server can accept anything on TCP
            info = _postmaster(data_dir)
            if info is None or not info.is_running():
                _start_listening(data_dir, tcp_port)
        server = pgserver.get_server(data_dir, cleanup_mode=None if keep_running else "stop")
        if first_start:
            server.psql("\n".join(_EMBEDDED_SETTINGS))
        _write_hba(data_dir)
        socket_url = _socket_url(data_dir)
        if tcp_port is not None:
            _secure_and_listen(server, data_dir, tcp_port, socket_url, keep_running=keep_running)
        else:
            with psycopg.connect(socket_url, autocommit=True, connect_timeout=10) as conn:
                conn.execute("SELECT pg_reload_conf()")
    except PostgresUnavailable:
        raise
    except Exception as exc:
        log_file = data_dir / "log"
        tail = log_file.read_text(errors="replace").strip().splitlines()[-3:] if log_file.exists() else []
        raise PostgresUnavailable(
            f"the embedded PostgreSQL in {data_dir} did not start ({type(exc).__name__}: {exc}). "
            f"Last log lines: {' | '.join(tail) or 'none'}. If the folder is damaged, `make clean` resets it."
        ) from exc
    return PgServer(admin_url=_socket_url(data_dir), embedded_dir=data_dir, tcp_port=tcp_port)


def _socket_url(data_dir: Path) -> str:
    """The superuser's URL of the running server in ``data_dir`` on its socket (whose name holds the port)."""
    info = _postmaster(data_dir)
    url = urlunsplit(("postgresql", f"{SUPERUSER}:@:{info.port}", "/postgres", "", ""))
    return _with_query(url, host=str(info.socket_dir))


def _secure_and_listen(server: Any, data_dir: Path, tcp_port: int, socket_url: str, *, keep_running: bool) -> None:
    """Give ``postgres`` its generated password, apply the project's pg_hba.conf, and listen on ``tcp_port``."""
    pgserver = _import_pgserver()
    with psycopg.connect(socket_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} PASSWORD {}").format(
                sql.Identifier(SUPERUSER), sql.Literal(superuser_password(data_dir))
            )
        )
        conn.execute("SELECT pg_reload_conf()")
    info = _postmaster(data_dir)
    if info.port == tcp_port and info.hostname == TCP_HOST:
        return
    # Started by pgserver (first start) or by someone without TCP: restart it listening, and let pgserver adopt it.
    atexit.unregister(server._cleanup)
    server.global_process_id_list.get_and_remove(os.getpid())
    pgserver.postgres_server.PostgresServer._instances.pop(data_dir.resolve(), None)
    if not stop_embedded(data_dir):
        raise PostgresUnavailable(f"the embedded PostgreSQL in {data_dir} could not be restarted to listen on TCP")
    _start_listening(data_dir, tcp_port)
    pgserver.get_server(data_dir, cleanup_mode=None if keep_running else "stop")


def _pg_ctl(data_dir: Path, *args: str) -> bool:
    pg_ctl = _import_pgserver()._commands.pg_ctl
    # pgserver runs the server as a system user of its own when started by root.
    user = "pgserver" if os.geteuid() == 0 else None
    try:
        pg_ctl(list(args), pgdata=data_dir, user=user, timeout=60)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return False
    return True


def stop_embedded(data_dir: Path) -> bool:
    """Stop the embedded server in ``data_dir`` (fast shutdown); ``False`` when none was running."""
    if not (data_dir / "postmaster.pid").exists():
        return False
    return _pg_ctl(data_dir, "-w", "-m", "fast", "stop")


def get_server(data_dir: Path | None = None, *, keep_running: bool = True, tcp_port: int | None = None) -> PgServer:
    """The server to use: ``SYMPHONICS_PG_URL`` when set (checked), else the embedded one, started.

    :param keep_running: for the embedded server, see :func:`start_embedded`.
    :param tcp_port: for the embedded server, see :func:`start_embedded`.
    """
    user_url = os.environ.get(PG_URL_ENV)
    if user_url:
        parts = urlsplit(user_url)
        admin = urlunsplit(parts._replace(path="/postgres")) if parts.path in ("", "/") else user_url
        check_reachable(admin)
        return PgServer(admin_url=admin)
    return start_embedded(data_dir or LOCAL_DIR / "pg", keep_running=keep_running, tcp_port=tcp_port)
