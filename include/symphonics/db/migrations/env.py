"""Alembic environment of the ``sync`` database (configured in code: see ``..migrate``)."""

from __future__ import annotations

import psycopg
from alembic import context
from sqlalchemy import create_engine, pool

config = context.config
conninfo: str = config.attributes["conninfo"]
engine = create_engine(
    "postgresql+psycopg://",
    creator=lambda: psycopg.connect(conninfo),
    poolclass=pool.NullPool,
)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        version_table=config.get_main_option("version_table") or "alembic_version",
        transaction_per_migration=True,
    )
    with context.begin_transaction():
        context.run_migrations()
