"""The publish pipeline's SQL, kept in ``include/symphonics/sql/publish/*.sql`` and read once."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import sql

from include.symphonics.sql import SqlFolder

_FOLDER = SqlFolder("publish")
text_of = _FOLDER.text
query = _FOLDER.query


def extraction_query(selection: str) -> sql.Composed:
    """``build_sources.sql`` over one of the selection files.

    :param selection: ``select_changed`` or ``select_external_ids``.
    """
    if selection not in ("select_changed", "select_external_ids"):
        raise ValueError(f"unknown selection {selection!r}")
    return query("build_sources").format(selected=query(selection))


def claim_scope(external_ids: Sequence[str]) -> list[str] | None:
    """The ``%(external_ids)s`` of the claim queries: the ids a run was given, or None (every row).

    :param external_ids: the run's ``external_ids`` param, checked.
    """
    return list(external_ids) if external_ids else None
