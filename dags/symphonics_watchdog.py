"""
### Symphonics watchdog

Alerts on publishing, the partner and the backlog, raised through the project's notifier (`symphonics.alerts`, the
log, and the `apprise` connection named by `SYMPHONICS_ALERT_CONN_ID`). Each is an episode: raised once when it
starts, with a "resolved" notice when it ends.

* **check_publish** → `publish_stalled`: no publish run has made progress for `SYMPHONICS_PUBLISH_STALE_AFTER_MINUTES`
  (default 120) while rows wait in the ledger.
* **check_partner** → `partner_unavailable`: every call recorded in `symphonics.api_calls` failed (timeout,
  connection error, 5xx) for `SYMPHONICS_PARTNER_DOWN_AFTER_MINUTES` (default 15) while rows wait.
* **check_dead_letters** → `dead_letter_added`: rows entered `dead_letter` since the last check
  (`SYMPHONICS_DEAD_LETTER_ALERT_THRESHOLD`, default 1).
* **check_rejected_documents** → `document_rejected_waiting`: a document rejected
  `SYMPHONICS_DOCUMENT_REJECTED_ALERT_DAYS` (default 2) days ago has no new one sent.
* **check_reconcile** → `reconcile_late`: the nightly reconcile has not built its snapshot by
  `SYMPHONICS_RECONCILE_DONE_BY` (default `06:00`, Europe/Paris); once per night.

A DAG of its own rather than Airflow's `DeadlineAlert`: a deadline hangs on a run and cannot see that no run happens
at all (`include/symphonics/watchdog.py` says more). What to do for each alert: `docs/RUNBOOK.md`.

`check_params` (first) refuses a run's conf: the DAG takes no param.

Schedule: `SYMPHONICS_WATCHDOG_SCHEDULE` (default every 10 minutes).
"""

from __future__ import annotations

from airflow.sdk import dag, get_current_context, task

from include.symphonics.dag_defaults import DEFAULT_ARGS, START_DATE, schedule_from_env
from include.symphonics.reconcile.settings import reconcile_schedule

RECONCILE_SCHEDULE = reconcile_schedule()


@dag(
    schedule=schedule_from_env("SYMPHONICS_WATCHDOG_SCHEDULE", "*/10 * * * *"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    doc_md=__doc__,
    tags=["symphonics", "ops"],
)
def symphonics_watchdog() -> None:
    @task(multiple_outputs=False)
    def check_params() -> None:
        from include.symphonics import params as run_params

        # The DAG takes no param: a conf key fails the run before any check.
        run_params.fail_run_on_unknown_conf(get_current_context())

    @task
    def check_publish() -> list[str]:
        import pendulum

        from include.symphonics import watchdog

        return [alert.kind for alert in watchdog.check_publish(pendulum.now("UTC"))]

    @task
    def check_partner() -> list[str]:
        import pendulum

        from include.symphonics import watchdog

        return [alert.kind for alert in watchdog.check_partner(pendulum.now("UTC"))]

    @task
    def check_dead_letters() -> list[str]:
        import pendulum

        from include.symphonics import watchdog

        return [alert.kind for alert in watchdog.check_dead_letters(pendulum.now("UTC"))]

    @task
    def check_rejected_documents() -> list[str]:
        import pendulum

        from include.symphonics import watchdog

        return [alert.kind for alert in watchdog.check_rejected_documents(pendulum.now("UTC"))]

    @task
    def check_reconcile() -> list[str]:
        import pendulum

        from include.symphonics import watchdog

        return [alert.kind for alert in watchdog.check_reconcile(pendulum.now("UTC"), RECONCILE_SCHEDULE)]

    check_params() >> [
        check_publish(),
        check_partner(),
        check_dead_letters(),
        check_rejected_documents(),
        check_reconcile(),
    ]


symphonics_watchdog()
