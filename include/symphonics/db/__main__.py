"""``python -m include.symphonics.db upgrade|downgrade|current|history|logins``: migrate the ``sync`` database.

The target is the database of the Airflow connection ``sync_db`` (``--conn-id`` to change it), or the
libpq string or URL given with ``--dsn``. ``logins`` (run as the database's owner, after ``upgrade``) makes the
services' logins in their roles, each with the password in its environment variable
(``SYMPHONICS_WEBHOOKS_DB_PASSWORD``, ``SYMPHONICS_DASHBOARD_DB_PASSWORD``, ``SYMPHONICS_PIPELINE_DB_PASSWORD``;
a service whose variable is unset gets none).
"""

from __future__ import annotations

import argparse
import os
import sys

import psycopg

from include.symphonics.db import SYNC_CONN_ID, dsn, roles
from include.symphonics.db import migrate as migrations


def make_logins(target: str) -> list[str]:
    """The services' logins whose password is in the environment, made or updated; returns their names."""
    made: list[str] = []
    with psycopg.connect(target, autocommit=True) as conn:
        for role, login in roles.SERVICE_LOGINS.items():
            password = os.environ.get(roles.PASSWORD_ENV[role])
            if password:
                roles.ensure_login(conn, login, role, password)
                made.append(login)
    return made


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.symphonics.db", description=__doc__)
    parser.add_argument("--conn-id", default=SYNC_CONN_ID, help="Airflow connection of the sync database")
    parser.add_argument("--dsn", help="libpq string or URL of the database (instead of --conn-id)")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("upgrade", help="apply the migrations (default: up to head)")
    up.add_argument("revision", nargs="?", default="head")
    down = sub.add_parser("downgrade", help="revert the migrations down to a revision")
    down.add_argument("revision")
    sub.add_parser("current", help="print the current revision")
    sub.add_parser("history", help="list the migrations")
    sub.add_parser("logins", help="make the services' logins in their roles (passwords from the environment)")
    args = parser.parse_args(argv)

    try:
        target = args.dsn or dsn(args.conn_id)
        if args.command == "upgrade":
            migrations.upgrade(target, args.revision)
        elif args.command == "downgrade":
            migrations.downgrade(target, args.revision)
        elif args.command == "current":
            migrations.current(target)
        elif args.command == "logins":
            made = make_logins(target)
            print(f"logins: {', '.join(made) or 'none (no password variable set)'}")
        else:
            migrations.history(target)
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"error: the sync database does not answer: {first}", file=sys.stderr)
        return 1
    except Exception as exc:
        if type(exc).__name__ == "AirflowNotFoundException":
            print(f"error: no Airflow connection {args.conn_id!r}: run `make run` once, or pass --dsn", file=sys.stderr)
            return 1
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
