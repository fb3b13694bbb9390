"""Every growing table has a retention the nightly job applies in bounded batches, through functions of the
migration owner.

Until now the purge deleted ``api_calls`` and blanked webhook bodies in one unbatched statement per table, in one
transaction, and ``webhook_events``, ``ledger_history`` and ``dry_run_results`` were kept for ever. The pipeline's
role may not delete from ``ledger_history`` (migration 0011), and should not need to: each purge is a
``SECURITY DEFINER`` function owned by the migration's role, ``EXECUTE`` granted to the pipeline's role only, that
removes (or blanks) at most one batch of rows older than a date and refuses a date younger than its floor, so a
pipeline login can neither empty a table at once nor remove what is recent:

===============================  ==============================================  =======  ==================
function                         rows                                            floor    index it walks
===============================  ==============================================  =======  ==================
``purge_api_calls``              ``api_calls`` called before                     1 day    ``called_at`` (new)
``purge_webhook_bodies``         ``webhook_events.raw_body`` blanked             1 day    partial, new
``purge_webhook_events``         processed ``webhook_events`` received before    30 days  ``received_at``
``purge_ledger_history``         ``ledger_history`` changed before               30 days  ``changed_at`` (new)
``purge_dry_run_results``        ``dry_run_results`` recorded before (but the    1 day    ``recorded_at``
                                 newest run's)
===============================  ==============================================  =======  ==================

Each walks an index on its time column from the oldest row, so a night with nothing due reads a few index pages.
The functions' ``search_path`` is pinned and every name qualified. The downgrade drops the functions and the
indexes this migration added (no data is changed by the migration itself).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

PIPELINE_ROLE = "symphonics_pipeline"
#: The most rows one call may touch: a batch holds its locks a short time.
MAX_BATCH = 50_000

#: function: (table, time column, which rows, floor in days, the statement's verb)
_PURGES = {
    "purge_api_calls": ("symphonics.api_calls", "called_at", "true", 1, "delete"),
    "purge_webhook_bodies": ("symphonics.webhook_events", "received_at", "raw_body <> ''", 1, "blank"),
    "purge_webhook_events": ("symphonics.webhook_events", "received_at", "processed_at IS NOT NULL", 30, "delete"),
    "purge_ledger_history": ("symphonics.ledger_history", "changed_at", "true", 30, "delete"),
    # The newest dry run stays whatever its age: the dashboard shows it.
    "purge_dry_run_results": (
        "symphonics.dry_run_results",
        "recorded_at",
        "run_id <> (SELECT d.run_id FROM symphonics.dry_run_results AS d ORDER BY d.recorded_at DESC LIMIT 1)",
        1,
        "delete",
    ),
}
#: (index, definition) the purges walk and no earlier migration made.
_INDEXES = (
    ("api_calls_called_at_idx", "symphonics.api_calls (called_at)"),
    ("webhook_events_body_kept_idx", "symphonics.webhook_events (received_at) WHERE raw_body <> ''"),
    ("ledger_history_changed_at_idx", "symphonics.ledger_history (changed_at)"),
)


def _function(name: str, table: str, column: str, rows: str, floor_days: int, verb: str) -> str:
    chosen = (
        f"SELECT id FROM {table} WHERE {column} < p_before AND {rows} "  # noqa: S608 (constants of this migration)
        f"ORDER BY {column} LIMIT p_batch FOR UPDATE SKIP LOCKED"
    )
    statement = (
        f"UPDATE {table} SET raw_body = '' WHERE id IN ({chosen})"  # noqa: S608 (constants)
        if verb == "blank"
        else f"DELETE FROM {table} WHERE id IN ({chosen})"  # noqa: S608 (constants)
    )
    return f"""
        CREATE FUNCTION symphonics.{name}(p_before timestamptz, p_batch integer) RETURNS integer
        LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
        DECLARE
            done integer;
        BEGIN
            IF p_before IS NULL OR p_before > now() - interval '{floor_days} days' THEN
                RAISE EXCEPTION '{name}: keeps at least {floor_days} day(s); % is too recent', p_before
                    USING ERRCODE = '22023';
            END IF;
            IF p_batch IS NULL OR p_batch < 1 OR p_batch > {MAX_BATCH} THEN
                RAISE EXCEPTION '{name}: a batch is 1 to {MAX_BATCH} rows, not %', p_batch USING ERRCODE = '22023';
            END IF;
            {statement};
            GET DIAGNOSTICS done = ROW_COUNT;
            RETURN done;
        END
        $fn$
    """


def upgrade() -> None:
    for index, definition in _INDEXES:
        op.execute(f"CREATE INDEX {index} ON {definition}")
    for name, (table, column, rows, floor_days, verb) in _PURGES.items():
        op.execute(_function(name, table, column, rows, floor_days, verb))
        signature = f"symphonics.{name}(timestamptz, integer)"
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {PIPELINE_ROLE}")


def downgrade() -> None:
    for name in _PURGES:
        op.execute(f"DROP FUNCTION symphonics.{name}(timestamptz, integer)")
    for index, _ in _INDEXES:
        op.execute(f"DROP INDEX symphonics.{index}")
