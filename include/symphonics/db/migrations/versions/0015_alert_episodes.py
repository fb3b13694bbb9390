"""Alert episodes, the watchdog's own marks, and alerts the dashboard may read.

* ``symphonics.alerts`` gains episodes: an alert about a condition that lasts (the partner down, dead letters
  waiting, a rejected document without a new one, publishing stalled) is ``episodic``; at most one episode of a
  kind is open at a time (``alerts_open_episode_key``), so a retried or repeated evaluation raises nothing twice;
  ``resolved_at`` closes it, and ``resolve_notified_via`` says where the "resolved" notice went.
* 0005's ``alerts_run_id_kind_key`` (one alert per run id and kind) becomes one per DAG, run id and kind: two DAGs'
  scheduled runs share their run ids (``scheduled__<date>``), so one DAG's failed run hid another's.
* ``symphonics.watchdog_marks``: per check of the watchdog, when it first and last ran and how far it has read
  (the ``dead_letter_added`` check counts the ledger's history rows after its mark). A stall counts from the
  watchdog's first run at the earliest, so a fresh deployment is not "stalled for ever".
* The dashboard's role may read ``symphonics.alerts`` (its alerts panel); the table holds no personal data.

The downgrade drops the mark table and the episode columns (episodes become plain alerts) and restores 0005's
index; alerts of two DAGs under one run id and kind, which 0005's index cannot hold, keep the first one.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

DASHBOARD_ROLE = "symphonics_dashboard"


def upgrade() -> None:
    op.execute("ALTER TABLE symphonics.alerts ADD COLUMN episodic boolean NOT NULL DEFAULT false")
    op.execute("ALTER TABLE symphonics.alerts ADD COLUMN resolved_at timestamptz")
    op.execute("ALTER TABLE symphonics.alerts ADD COLUMN resolve_notified_via text[] NOT NULL DEFAULT '{}'")
    op.execute(
        "ALTER TABLE symphonics.alerts ADD CONSTRAINT alerts_resolved_check "
        "CHECK (resolved_at IS NULL OR (episodic AND resolved_at >= raised_at))"
    )
    op.execute(
        "CREATE UNIQUE INDEX alerts_open_episode_key ON symphonics.alerts (kind) WHERE episodic AND resolved_at IS NULL"
    )
    # The dashboard's panel: open episodes, then the latest alerts.
    op.execute("CREATE INDEX alerts_resolved_at_idx ON symphonics.alerts (resolved_at)")
    op.execute("DROP INDEX symphonics.alerts_run_id_kind_key")
    op.execute(
        "CREATE UNIQUE INDEX alerts_dag_id_run_id_kind_key ON symphonics.alerts (coalesce(dag_id, ''), run_id, kind) "
        "WHERE run_id IS NOT NULL"
    )
    op.execute(
        """
        CREATE TABLE symphonics.watchdog_marks (
            check_name          text NOT NULL CONSTRAINT watchdog_marks_pkey PRIMARY KEY
                CONSTRAINT watchdog_marks_check_name_check CHECK (check_name <> ''),
            first_evaluated_at  timestamptz NOT NULL,
            last_evaluated_at   timestamptz NOT NULL,
            mark                bigint NOT NULL DEFAULT 0,
            CONSTRAINT watchdog_marks_evaluated_check CHECK (last_evaluated_at >= first_evaluated_at)
        )
        """
    )
    op.execute(f"GRANT SELECT ON symphonics.alerts TO {DASHBOARD_ROLE}")


def downgrade() -> None:
    op.execute(f"REVOKE SELECT ON symphonics.alerts FROM {DASHBOARD_ROLE}")  # noqa: S608 (constants)
    op.execute("DROP TABLE symphonics.watchdog_marks")
    op.execute("DROP INDEX symphonics.alerts_dag_id_run_id_kind_key")
    op.execute(
        """
        DELETE FROM symphonics.alerts AS later
         USING symphonics.alerts AS earlier
         WHERE later.run_id = earlier.run_id AND later.kind = earlier.kind AND later.id > earlier.id
        """
    )
    op.execute(
        "CREATE UNIQUE INDEX alerts_run_id_kind_key ON symphonics.alerts (run_id, kind) WHERE run_id IS NOT NULL"
    )
    op.execute("DROP INDEX symphonics.alerts_resolved_at_idx")
    op.execute("DROP INDEX symphonics.alerts_open_episode_key")
    op.execute("ALTER TABLE symphonics.alerts DROP CONSTRAINT alerts_resolved_check")
    op.execute("ALTER TABLE symphonics.alerts DROP COLUMN resolve_notified_via")
    op.execute("ALTER TABLE symphonics.alerts DROP COLUMN resolved_at")
    op.execute("ALTER TABLE symphonics.alerts DROP COLUMN episodic")
