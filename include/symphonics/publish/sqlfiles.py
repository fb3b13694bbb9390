"""The publish pipeline's SQL, kept in ``include/symphonics/sql/publish/*.sql`` and read once."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from psycopg import sql

SQL_DIR = Path(__file__).resolve().parents[1] / "sql" / "publish"


@cache
def text_of(name: str) -> str:
    """The text of ``sql/publish/<name>.sql``.

    :param name: the file's name without ``.sql``.
    """
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def query(name: str) -> sql.SQL:
    """The statement in ``sql/publish/<name>.sql``, for ``cursor.execute`` with bound parameters.

    :param name: the file's name without ``.sql``.
    """
    return sql.SQL(text_of(name))  # a file of this package, never input


def extraction_query(selection: str) -> sql.Composed:
    """``build_sources.sql`` over one of the selection files.

    :param selection: ``select_changed`` or ``select_external_ids``.
    """
    if selection not in ("select_changed", "select_external_ids"):
        raise ValueError(f"unknown selection {selection!r}")
    return query("build_sources").format(selected=query(selection))
