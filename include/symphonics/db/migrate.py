"""Alembic, configured in code, for the ``sync`` database.

The version table is ``symphonics_alembic_version`` so it never collides with Airflow's own
``alembic_version`` when both live on one server. A released migration is never edited: fix forward.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
VERSION_TABLE = "symphonics_alembic_version"


def alembic_config(conninfo: str) -> Config:
    """An Alembic configuration that migrates the database at ``conninfo`` (libpq string or URL)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_table", VERSION_TABLE)
    config.attributes["conninfo"] = conninfo
    return config


def upgrade(conninfo: str, revision: str = "head") -> None:
    """Apply every migration up to ``revision``."""
    command.upgrade(alembic_config(conninfo), revision)


def downgrade(conninfo: str, revision: str) -> None:
    """Revert migrations down to ``revision`` (``base`` reverts them all)."""
    command.downgrade(alembic_config(conninfo), revision)


def current(conninfo: str) -> None:
    """Print the revision the database is at."""
    command.current(alembic_config(conninfo), verbose=False)


def history(conninfo: str) -> None:
    """Print the list of migrations."""
    command.history(alembic_config(conninfo))
