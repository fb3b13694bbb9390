"""The publish pipeline's SQL, kept in ``include/symphonics/sql/publish/*.sql`` and read once."""

from __future__ import annotations

from psycopg import sql

from include.symphonics.sql import SqlFolder

_FOLDER = SqlFolder("publish")
SQL_DIR = _FOLDER.path
text_of = _FOLDER.text
query = _FOLDER.query


def extraction_query(selection: str) -> sql.Composed:
    """``build_sources.sql`` over one of the selection files.

    :param selection: ``select_changed`` or ``select_external_ids``.
    """
    if selection not in ("select_changed", "select_external_ids"):
        raise ValueError(f"unknown selection {selection!r}")
    return query("build_sources").format(selected=query(selection))
