"""The reconciliation's SQL, kept in ``include/symphonics/sql/reconcile/*.sql`` and read once."""

from __future__ import annotations

from include.symphonics.sql import SqlFolder

_FOLDER = SqlFolder("reconcile")
text_of = _FOLDER.text
query = _FOLDER.query
