"""
### Symphonics health check

Hourly check of everything the sync depends on: the app's database (`app_db`), this project's
`sync` database (`sync_db`) and the Symphonics API (`symphonics_default`). Each result is stored in
`symphonics.healthchecks`; a failed check turns its task red, so the grid shows at a glance which
component is down. A run's conf is refused (`check_params`, first): the DAG takes no param.

Schedule: `SYMPHONICS_HEALTHCHECK_SCHEDULE` (default `@hourly`).
"""

from __future__ import annotations

from dataclasses import asdict

from airflow.sdk import dag, get_current_context, task

from include.symphonics.dag_defaults import DEFAULT_ARGS, HEALTHCHECK_SCHEDULE, START_DATE
from include.symphonics.db import APP_CONN_ID, SYNC_CONN_ID


@dag(
    schedule=HEALTHCHECK_SCHEDULE,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["symphonics", "ops"],
)
def symphonics_healthcheck() -> None:
    @task(multiple_outputs=False)
    def check_params() -> None:
        from include.symphonics import params as run_params

        # The DAG takes no param: a conf key (a typo meant for another DAG) fails the run before any check.
        run_params.fail_run_on_unknown_conf(get_current_context())

    @task(multiple_outputs=False)
    def check_database(conn_id: str) -> dict[str, object]:
        # Imported here, not at the top: the parser would pay for psycopg on every parse (~0.16 s).
        from include.symphonics import health

        result = health.check_database(conn_id)
        health.record(result, run_id=get_current_context()["run_id"])
        return asdict(health.raise_if_failed(result))

    @task(multiple_outputs=False)
    def check_symphonics_api() -> dict[str, object]:
        from include.symphonics import health

        result = health.check_partner_api()
        health.record(result, run_id=get_current_context()["run_id"])
        return asdict(health.raise_if_failed(result))

    check_params() >> [
        check_database.override(task_id="check_app_db")(APP_CONN_ID),
        check_database.override(task_id="check_sync_db")(SYNC_CONN_ID),
        check_symphonics_api(),
    ]


symphonics_healthcheck()
