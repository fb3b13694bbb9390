"""The privacy SQL, kept in ``include/symphonics/sql/privacy/*.sql`` and read once."""

from __future__ import annotations

from include.symphonics.sql import SqlFolder

_FOLDER = SqlFolder("privacy")
text_of = _FOLDER.text
query = _FOLDER.query
