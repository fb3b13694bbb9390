"""The PostgreSQL server behind ``make run`` and ``make test``.

By default an embedded PostgreSQL 16 (the ``pgserver`` wheel) is started with its data under ``.local/``.
It listens on a unix socket only, whose folder is read from the running server (``postmaster.pid``), never
written into a checked-in file. When ``SYMPHONICS_PG_URL`` holds the URL of a server of the user's own
(``postgresql://user:password@host:5432``), nothing is started and that server is used instead.

The project keeps three databases apart, as in production where the app's database is not ours:
``airflow`` (Airflow metadata), ``app`` (the Workforce Automation App) and ``sync`` (this project's ledger).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)
# pgserver logs every handle at INFO, also from atexit after logging has shut down.
logging.getLogger("pgserver").setLevel(logging.WARNING)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LOCAL_DIR = Path(os.environ.get("SYMPHONICS_LOCAL_DIR", PROJECT_ROOT / ".local"))
PG_URL_ENV = "SYMPHONICS_PG_URL"
DATABASES = ("airflow", "app", "sync")

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
    """

    admin_url: str
    embedded_dir: Path | None = None

    def url(self, database: str) -> str:
        """URL of ``database`` on this server (libpq form, accepted by psycopg and SQLAlchemy)."""
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{database}"))

    def sqlalchemy_url(self, database: str) -> str:
        """URL of ``database`` for SQLAlchemy with the psycopg2 driver (Airflow's metadata database)."""
        url = self.url(database)
        return "postgresql+psycopg2://" + url.split("://", 1)[1]

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
    return pgserver


def start_embedded(data_dir: Path, *, keep_running: bool = True) -> PgServer:
    """Start (or find running) the embedded server whose data lives in ``data_dir``.

    :param keep_running: leave the server running when this process exits (``make run``); otherwise it
        stops when the last process that started or found it exits (tests, benchmarks).
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
        server = pgserver.get_server(data_dir, cleanup_mode=None if keep_running else "stop")
        if first_start:
            server.psql("\n".join(_EMBEDDED_SETTINGS))
    except Exception as exc:
        log_file = data_dir / "log"
        tail = log_file.read_text(errors="replace").strip().splitlines()[-3:] if log_file.exists() else []
        raise PostgresUnavailable(
            f"the embedded PostgreSQL in {data_dir} did not start ({type(exc).__name__}: {exc}). "
            f"Last log lines: {' | '.join(tail) or 'none'}. If the folder is damaged, `make clean` resets it."
        ) from exc
    return PgServer(admin_url=_with_query(server.get_uri("postgres")), embedded_dir=data_dir)


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


def get_server(data_dir: Path | None = None, *, keep_running: bool = True) -> PgServer:
    """The server to use: ``SYMPHONICS_PG_URL`` when set (checked), else the embedded one, started.

    :param keep_running: for the embedded server, see :func:`start_embedded`.
    """
    user_url = os.environ.get(PG_URL_ENV)
    if user_url:
        parts = urlsplit(user_url)
        admin = urlunsplit(parts._replace(path="/postgres")) if parts.path in ("", "/") else user_url
        check_reachable(admin)
        return PgServer(admin_url=admin)
    return start_embedded(data_dir or LOCAL_DIR / "pg", keep_running=keep_running)
