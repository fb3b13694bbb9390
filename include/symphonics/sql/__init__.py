"""The project's SQL files, one folder per concern (``client/``, ``publish/``, ``reconcile/``, ``dashboard/``,
``webhooks/``...), read by one loader, :class:`SqlFolder`.

SQL lives in files, never in Python strings; values are bound as parameters and identifiers never come
from input, so a statement read from here is safe to compose.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, LiteralString, cast

if TYPE_CHECKING:
    from psycopg import sql

SQL_ROOT = Path(__file__).resolve().parent


class SqlFolder:
    """The ``.sql`` files of one folder, each read once.

    :param folder: the folder's name under ``include/symphonics/sql``.
    """

    def __init__(self, folder: str) -> None:
        self.path = SQL_ROOT / folder

    def text(self, name: str) -> str:
        """The text of ``<folder>/<name>.sql``."""
        return _read(self.path / f"{name}.sql")

    def literal(self, name: str) -> LiteralString:
        """The text of ``<folder>/<name>.sql`` typed as a literal (psycopg's ``execute`` accepts it as it is)."""
        return cast("LiteralString", self.text(name))  # a file of ours, never input

    def query(self, name: str) -> sql.SQL:
        """The statement in ``<folder>/<name>.sql``, for ``cursor.execute`` with bound parameters."""
        from psycopg import sql  # where a statement is built: DAG files may import this module to parse

        return sql.SQL(self.text(name))  # type: ignore[arg-type,unused-ignore]  # a file of ours, never input


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")
