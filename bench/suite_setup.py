"""What a test database costs the suite: migrating a new ``sync`` database to head, against cloning a migrated
template (``CREATE DATABASE … TEMPLATE``), and ``airflow db migrate`` of a new metadata database against a clone.

Runs on the test suite's embedded PostgreSQL (``.local/test-pg``, shared with a test session running at the same
time) in databases of its own, dropped at the end. Prints figures; asserts nothing.

    PYTHONPATH=. .venv/bin/python bench/suite_setup.py [rounds]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

import psycopg
from psycopg import sql

from include.symphonics.db import migrate
from include.symphonics_devstack import localpg

PREFIX = f"symphonics_scratch_{os.getpid()}_bench_"


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def main(rounds: int) -> None:
    server = localpg.get_server(localpg.LOCAL_DIR / "test-pg", keep_running=False)
    names: list[str] = []

    def create(name: str, template: str | None = None) -> str:
        full = PREFIX + name
        names.append(full)
        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(full))
            if template:
                statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(PREFIX + template))
            conn.execute(statement)
        return server.url(full)

    try:
        migrated = [_timed(lambda i=i: migrate.upgrade(create(f"migrated_{i}"))) for i in range(rounds)]
        create("template")
        migrate.upgrade(server.url(PREFIX + "template"))
        cloned = [_timed(lambda i=i: create(f"clone_{i}", "template")) for i in range(rounds)]
        env = {**os.environ, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": server.sqlalchemy_url(PREFIX + "airflow")}
        create("airflow")
        airflow = _timed(
            lambda: subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
            )
        )
        airflow_clone = _timed(lambda: create("airflow_clone", "airflow"))
    finally:
        with psycopg.connect(server.admin_url, autocommit=True) as conn:
            for name in names:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
    print(f"sync database, migrated to head: median {statistics.median(migrated):.2f} s over {rounds}")
    print(f"sync database, cloned from a migrated template: median {statistics.median(cloned):.2f} s over {rounds}")
    print(f"airflow metadata database, airflow db migrate: {airflow:.1f} s; cloned: {airflow_clone:.2f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
