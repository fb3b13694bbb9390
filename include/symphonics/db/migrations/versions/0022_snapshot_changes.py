"""Snapshots linear in changes: insert-only change rows per intervention, ``reconciliation_snapshots`` a view.

Until now each night wrote one row per intervention the ledger ever knew into
``analytics.reconciliation_snapshots``: night *k* held every intervention known by then, so the table grew with the
square of the deployment's age (about 330M rows after a year at 5,000 interventions a day) for a few thousand
changes a day. The upgrade:

* creates ``analytics.snapshot_changes``: one row per intervention and date on which its state (everything a
  snapshot row holds but the time-derived columns) differs from the one before, ``valid_from`` that date; a row
  with ``present`` false says the intervention left the snapshots (out of scope) from that date. The end of a
  version is derived (``lead()``), never stored: the table is insert-only (a trigger refuses ``UPDATE`` and
  ``DELETE``, an erasure on request excepted, as 0009 allowed for the old table);
* keeps each night's parameters where they were, ``analytics.snapshot_builds`` (``as_of``, ``known_at``,
  ``stale_days``);
* adds the view ``analytics.snapshot_versions``: the change rows with each version's end (``valid_to``, the next
  row's ``valid_from``, derived with ``lead()``);
* replaces the table by a view of the same name and columns, which computes the time-derived ones
  (``days_since_completion``, ``days_in_partner_status``, the ``stale`` category) from each build's parameters:
  the analysts' queries are unchanged, and so are their grants (analyst and dashboard roles read it);
* adds the indexes the nightly build reads changes through (``status_history`` by ``recorded_at`` and by
  ``occurred_at``, ``app_interventions_copy`` by ``copied_at``);
* migrates the stored snapshots: for each intervention, a change row on its first date and on every date where
  its stored row differs from the date before, or is missing. The view then gives every stored row back; the
  migration checks it (both ways, every column) and fails rather than lose or change one. A stored date without
  its ``snapshot_builds`` row gets one from its rows (its ``as_of``, ``known_at`` the same, ``stale_days`` 30).

Partner notes stay masked (``analytics.mask_personal_data``, 0021): the stored ones are, new ones are masked by the
build. The downgrade recreates the table (0005's columns, 0017's index, 0009's trigger and the grants) and fills it
from the view: every night's rows come back.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

ANALYST_ROLE = "symphonics_analyst"
DASHBOARD_ROLE = "symphonics_dashboard"
PIPELINE_ROLE = "symphonics_pipeline"

#: The categories a change row stores: every one but ``stale``, which depends on the night (the view derives it).
_BASE_CATEGORIES = (
    "in_sync",
    "awaiting_partner",
    "approved",
    "rejected",
    "document_rejected",
    "missing_in_partner",
    "invalid_in_app",
    "changed_after_publish",
    "dead_letter",
)
_OLD_CATEGORIES = (*_BASE_CATEGORIES, "stale")

#: The columns of a snapshot row that do not depend on the night, in the old table's order.
_STATE_COLUMNS = (
    "app_intervention_id",
    "app_status",
    "app_completed_at",
    "app_updated_at",
    "ledger_state",
    "ledger_reason",
    "symphonics_id",
    "partner_status",
    "partner_status_at",
    "partner_notes",
    "rejected_documents",
    "published_at",
    "approved_at",
    "installer_id",
    "installer_masked",
    "company_id",
    "postal_code",
)
#: Every column of the old table, in its order: the view's columns.
_SNAPSHOT_COLUMNS = (
    "snapshot_date",
    "external_id",
    "as_of",
    "category",
    *_STATE_COLUMNS[:13],
    "days_since_completion",
    "days_in_partner_status",
    *_STATE_COLUMNS[13:],
)

#: Each intervention's versions, the end of each derived with ``lead()`` (the store never holds it): the analysts'
#: history of one intervention, as dbt snapshots model it.
_VERSIONS_VIEW = """
CREATE VIEW analytics.snapshot_versions AS
SELECT c.*, lead(c.valid_from) OVER (PARTITION BY c.external_id ORDER BY c.valid_from) AS valid_to
  FROM analytics.snapshot_changes AS c
"""

#: Every built date's full snapshot: for each build, each intervention's latest change row on or before its date
#: (the version whose ``valid_to`` is after it), read through the primary key's order; a filter on
#: ``snapshot_date`` reads the store once, one on ``external_id`` reads that intervention's rows only.
_VIEW = """
CREATE VIEW analytics.reconciliation_snapshots AS
SELECT b.snapshot_date,
       v.external_id,
       b.as_of,
       CASE
           WHEN v.category IN ('awaiting_partner', 'in_sync')
                AND greatest(v.partner_status_at, v.published_at) < b.as_of - make_interval(days => b.stale_days)
               THEN 'stale'
           ELSE v.category
       END AS category,
       v.app_intervention_id,
       v.app_status,
       v.app_completed_at,
       v.app_updated_at,
       v.ledger_state,
       v.ledger_reason,
       v.symphonics_id,
       v.partner_status,
       v.partner_status_at,
       v.partner_notes,
       v.rejected_documents,
       v.published_at,
       v.approved_at,
       (b.as_of AT TIME ZONE 'Europe/Paris')::date - (v.app_completed_at AT TIME ZONE 'Europe/Paris')::date
           AS days_since_completion,
       (b.as_of AT TIME ZONE 'Europe/Paris')::date - (v.partner_status_at AT TIME ZONE 'Europe/Paris')::date
           AS days_in_partner_status,
       v.installer_id,
       v.installer_masked,
       v.company_id,
       v.postal_code
  FROM analytics.snapshot_builds AS b
 CROSS JOIN LATERAL (
     SELECT DISTINCT ON (c.external_id) c.*
       FROM analytics.snapshot_changes AS c
      WHERE c.valid_from <= b.snapshot_date
      ORDER BY c.external_id DESC, c.valid_from DESC
 ) AS v
 WHERE v.present
"""


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


def upgrade() -> None:
    op.execute(
        f"""
        CREATE TABLE analytics.snapshot_changes (
            external_id          text NOT NULL,
            valid_from           date NOT NULL,
            present              boolean NOT NULL,
            category             text
                CONSTRAINT snapshot_changes_category_check CHECK (category IN ({_quoted(_BASE_CATEGORIES)})),
            app_intervention_id  bigint,
            app_status           text,
            app_completed_at     timestamptz,
            app_updated_at       timestamptz,
            ledger_state         text,
            ledger_reason        text,
            symphonics_id        text,
            partner_status       text,
            partner_status_at    timestamptz,
            partner_notes        text,
            rejected_documents   text[],
            published_at         timestamptz,
            approved_at          timestamptz,
            installer_id         bigint,
            installer_masked     text,
            company_id           bigint,
            postal_code          text,
            recorded_at          timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT snapshot_changes_pkey PRIMARY KEY (external_id, valid_from),
            CONSTRAINT snapshot_changes_present_check CHECK (
                (present AND category IS NOT NULL AND ledger_state IS NOT NULL AND rejected_documents IS NOT NULL)
                OR (NOT present AND category IS NULL)
            )
        )
        """
    )
    op.execute("CREATE INDEX snapshot_changes_valid_from_idx ON analytics.snapshot_changes (valid_from)")
    op.execute(
        "COMMENT ON TABLE analytics.snapshot_changes IS 'Insert-only: a row per intervention and snapshot date on "
        "which its state changed (present false: out of the snapshots from then). The source of truth of every "
        "past night, read through the view analytics.reconciliation_snapshots with analytics.snapshot_builds.'"
    )
    # Insert-only, but an erasure on request (the transaction-local setting of 0009) may redact a row.
    op.execute(
        """
        CREATE FUNCTION analytics.refuse_snapshot_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'UPDATE' AND current_setting('symphonics.erasure', true) = 'on' THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'a snapshot change row is never changed nor deleted (% %)', OLD.external_id,
                OLD.valid_from USING ERRCODE = 'integrity_constraint_violation';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER snapshot_changes_insert_only BEFORE UPDATE OR DELETE ON analytics.snapshot_changes "
        "FOR EACH ROW EXECUTE FUNCTION analytics.refuse_snapshot_change()"
    )
    # What the nightly build reads changes through (the rows made visible since the last build).
    op.execute("CREATE INDEX status_history_recorded_at_idx ON symphonics.status_history (recorded_at)")
    op.execute("CREATE INDEX status_history_occurred_at_idx ON symphonics.status_history (occurred_at)")
    op.execute("CREATE INDEX app_interventions_copy_copied_at_idx ON symphonics.app_interventions_copy (copied_at)")

    # A stored date without its build's row (never made by the job; planted by hand) gets one from its rows.
    op.execute(
        """
        INSERT INTO analytics.snapshot_builds (snapshot_date, as_of, known_at, stale_days, row_count)
        SELECT snapshot_date, min(as_of), min(as_of), 30, count(*)
          FROM analytics.reconciliation_snapshots
         WHERE snapshot_date NOT IN (SELECT snapshot_date FROM analytics.snapshot_builds)
         GROUP BY snapshot_date
        """
    )
    state = ", ".join(_STATE_COLUMNS)
    state_of_s = ", ".join(f"s.{column}" for column in _STATE_COLUMNS)
    # Each intervention on every built date from its first: its stored row (its state, the stale category taken
    # back to the one under it), or none; a change row where that differs from the date before.
    op.execute(
        f"""
        INSERT INTO analytics.snapshot_changes (external_id, valid_from, present, category, {state})
        WITH firsts AS (
            SELECT external_id, min(snapshot_date) AS first_date
              FROM analytics.reconciliation_snapshots
             GROUP BY external_id
        ), cells AS (
            SELECT f.external_id, b.snapshot_date, s.external_id IS NOT NULL AS present,
                   CASE WHEN s.category = 'stale'
                        THEN CASE WHEN s.partner_status IS NULL THEN 'awaiting_partner' ELSE 'in_sync' END
                        ELSE s.category END AS category,
                   {state_of_s}
              FROM firsts AS f
              JOIN analytics.snapshot_builds AS b ON b.snapshot_date >= f.first_date
              LEFT JOIN analytics.reconciliation_snapshots AS s
                ON s.external_id = f.external_id AND s.snapshot_date = b.snapshot_date
        ), compared AS (
            SELECT c.*,
                   to_jsonb(c) - 'snapshot_date' AS content,
                   lag(to_jsonb(c) - 'snapshot_date') OVER (PARTITION BY c.external_id ORDER BY c.snapshot_date)
                       AS previous
              FROM cells AS c
        )
        SELECT external_id, snapshot_date, present, category, {state}
          FROM compared
         WHERE previous IS NULL OR previous IS DISTINCT FROM content
        """  # noqa: S608 (this module's constants only)
    )
    columns = ", ".join(_SNAPSHOT_COLUMNS)
    op.execute("ALTER TABLE analytics.reconciliation_snapshots RENAME TO reconciliation_snapshots_0005")
    op.execute(_VIEW)
    op.execute(_VERSIONS_VIEW)
    # Not one stored row lost or changed: the view gives the old table back, both ways, every column.
    op.execute(
        f"""
        DO $$
        DECLARE
            missing bigint;
            extra bigint;
        BEGIN
            SELECT count(*) INTO missing FROM (
                SELECT {columns} FROM analytics.reconciliation_snapshots_0005
                EXCEPT ALL SELECT {columns} FROM analytics.reconciliation_snapshots) AS m;
            SELECT count(*) INTO extra FROM (
                SELECT {columns} FROM analytics.reconciliation_snapshots
                EXCEPT ALL SELECT {columns} FROM analytics.reconciliation_snapshots_0005) AS e;
            IF missing > 0 OR extra > 0 THEN
                RAISE EXCEPTION 'snapshot migration: % stored row(s) not given back by the view, % more',
                    missing, extra;
            END IF;
        END
        $$
        """  # noqa: S608 (this module's constants only)
    )
    op.execute("DROP TABLE analytics.reconciliation_snapshots_0005")
    op.execute("DROP FUNCTION analytics.refuse_snapshot_update()")
    op.execute(f"GRANT SELECT ON analytics.reconciliation_snapshots TO {ANALYST_ROLE}, {DASHBOARD_ROLE}")
    op.execute(f"GRANT SELECT ON analytics.reconciliation_snapshots, analytics.snapshot_changes TO {PIPELINE_ROLE}")
    op.execute(f"GRANT INSERT, UPDATE ON analytics.snapshot_changes TO {PIPELINE_ROLE}")
    # Masked data only, as the old table: the store itself is the analysts' too (a date's versions in one scan).
    op.execute(f"GRANT SELECT ON analytics.snapshot_changes, analytics.snapshot_versions TO {ANALYST_ROLE}")


def downgrade() -> None:
    columns = ", ".join(_SNAPSHOT_COLUMNS)
    op.execute("ALTER VIEW analytics.reconciliation_snapshots RENAME TO reconciliation_snapshots_0022")
    op.execute(
        f"""
        CREATE TABLE analytics.reconciliation_snapshots (
            snapshot_date              date NOT NULL,
            external_id                text NOT NULL,
            as_of                      timestamptz NOT NULL,
            category                   text NOT NULL
                CONSTRAINT reconciliation_snapshots_category_check CHECK (category IN ({_quoted(_OLD_CATEGORIES)})),
            app_intervention_id        bigint,
            app_status                 text,
            app_completed_at           timestamptz,
            app_updated_at             timestamptz,
            ledger_state               text NOT NULL,
            ledger_reason              text,
            symphonics_id              text,
            partner_status             text,
            partner_status_at          timestamptz,
            partner_notes              text,
            rejected_documents         text[] NOT NULL DEFAULT '{{}}',
            published_at               timestamptz,
            approved_at                timestamptz,
            days_since_completion      integer,
            days_in_partner_status     integer,
            installer_id               bigint,
            installer_masked           text,
            company_id                 bigint,
            postal_code                text,
            CONSTRAINT reconciliation_snapshots_pkey PRIMARY KEY (snapshot_date, external_id)
        )
        """
    )
    restore = f"INSERT INTO analytics.reconciliation_snapshots ({columns}) SELECT {columns} FROM "  # noqa: S608 (this module's constants only)
    op.execute(restore + "analytics.reconciliation_snapshots_0022")
    op.execute(
        "CREATE INDEX reconciliation_snapshots_category_idx ON analytics.reconciliation_snapshots "
        "(snapshot_date, category)"
    )
    op.execute(
        "CREATE INDEX reconciliation_snapshots_external_id_idx ON analytics.reconciliation_snapshots (external_id)"
    )
    op.execute(
        """
        CREATE FUNCTION analytics.refuse_snapshot_update() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('symphonics.erasure', true) = 'on' THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'a reconciliation snapshot is never changed (% %)', OLD.snapshot_date, OLD.external_id
                USING ERRCODE = 'integrity_constraint_violation';
        END
        $$
        """
    )
    op.execute(
        "CREATE TRIGGER reconciliation_snapshots_immutable BEFORE UPDATE ON analytics.reconciliation_snapshots "
        "FOR EACH ROW EXECUTE FUNCTION analytics.refuse_snapshot_update()"
    )
    op.execute(f"GRANT SELECT ON analytics.reconciliation_snapshots TO {ANALYST_ROLE}, {DASHBOARD_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON analytics.reconciliation_snapshots TO {PIPELINE_ROLE}")
    op.execute("DROP VIEW analytics.reconciliation_snapshots_0022")
    op.execute("DROP VIEW analytics.snapshot_versions")
    op.execute("DROP TABLE analytics.snapshot_changes")
    op.execute("DROP FUNCTION analytics.refuse_snapshot_change()")
    op.execute("DROP INDEX symphonics.app_interventions_copy_copied_at_idx")
    op.execute("DROP INDEX symphonics.status_history_occurred_at_idx")
    op.execute("DROP INDEX symphonics.status_history_recorded_at_idx")
