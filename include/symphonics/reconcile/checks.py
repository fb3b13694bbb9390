"""The data-quality checks of the reconcile DAG, as the common-sql check operators take them.

Imported by the DAG file at parse time: constants and one operator subclass, no database access.
"""

from __future__ import annotations

from collections.abc import Sequence

from airflow.providers.common.sql.operators.sql import SQLCheckOperator

from include.symphonics.sql import SqlFolder

SQL_DIR = SqlFolder("reconcile").path

#: One app intervention per external id in the copy of the app's state (a reused external id is a data bug).
APP_COPY_CHECKS = {
    "one_app_intervention_per_external_id": {
        "check_statement": "COUNT(DISTINCT external_id) = COUNT(DISTINCT (external_id, app_intervention_id))",
    },
}

#: The ledger: each external id once, and every row sent to the partner has its id, or is conflict_unresolved.
LEDGER_COLUMN_CHECKS = {
    "external_id": {"null_check": {"equal_to": 0}, "unique_check": {"equal_to": 0}},
}
#: An aggregate, not a per-row test: common-sql takes MIN() of a per-row test, NULL (a failure) on an empty ledger,
#: so a reconcile run before the first publish would fail.
LEDGER_TABLE_CHECKS = {
    "published_rows_have_a_symphonics_id": {
        "check_statement": "COUNT(*) FILTER (WHERE published_at IS NOT NULL AND symphonics_id IS NULL"
        " AND state <> 'conflict_unresolved') = 0",
    },
}


class BoundSQLCheckOperator(SQLCheckOperator):
    """``SQLCheckOperator`` whose ``parameters`` are templated, so a check binds values from XCom as parameters
    instead of pasting them into its SQL."""

    template_fields: Sequence[str] = (*SQLCheckOperator.template_fields, "parameters")
