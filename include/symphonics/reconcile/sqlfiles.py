"""The reconciliation's SQL, kept in ``include/symphonics/sql/reconcile/*.sql`` and read once."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from psycopg import sql

SQL_DIR = Path(__file__).resolve().parents[1] / "sql" / "reconcile"


@cache
def text_of(name: str) -> str:
    """The text of ``sql/reconcile/<name>.sql``.

    :param name: the file's name without ``.sql``.
    """
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def query(name: str) -> sql.SQL:
    """The statement in ``sql/reconcile/<name>.sql``, for ``cursor.execute`` with bound parameters.

    :param name: the file's name without ``.sql``.
    """
    return sql.SQL(text_of(name))  # type: ignore[arg-type,unused-ignore]  # a file of this package, never input
