"""The publish DAG's task bodies: each resolves connections and settings at run time, then calls a step.

Nothing here runs at parse time. The DAG file only wires these functions into tasks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from include.symphonics import lineage
from include.symphonics.client import RunBudget, SymphonicsAuthError
from include.symphonics.db import dsn
from include.symphonics.params import publish_params
from include.symphonics.publish import dry_run as dry_run_step
from include.symphonics.publish import extract as extract_step
from include.symphonics.publish import partner_validation, prevalidate, publisher, summary
from include.symphonics.publish.settings import PIPELINE, PublishSettings
from include.symphonics.publish.sqlfiles import query

if TYPE_CHECKING:
    from include.symphonics.hook import SymphonicsHook

log = logging.getLogger(__name__)


def backfill_range(logical_date: datetime, schedule: str) -> tuple[datetime, datetime]:
    """The range a backfill run re-extracts: from the schedule's previous tick to the run's logical date.

    A cron schedule gives zero-width data intervals (``CronTriggerTimetable``), so the range is computed.

    :param logical_date: the backfill run's logical date.
    :param schedule: the DAG's cron expression or preset.
    """
    from croniter import croniter

    try:
        previous = croniter(schedule, logical_date).get_prev(datetime)
    except (ValueError, KeyError):
        previous = logical_date - timedelta(days=1)
    return previous, logical_date


def run_type_name(run_type: Any) -> str | None:
    """``backfill``, ``scheduled``, ``manual``…: the run type as the pipeline compares it.

    The Task SDK gives a ``DagRunType`` enum, whose ``str()`` is ``DagRunType.BACKFILL``, not its value.

    :param run_type: the DAG run's ``run_type``.
    """
    if run_type is None:
        return None
    return str(getattr(run_type, "value", run_type))


def extract_request(
    params: Mapping[str, Any], *, run_type: str | None, logical_date: datetime | None, schedule: str
) -> extract_step.ExtractRequest:
    """The extraction a run asks for, from its params (and, for a backfill, its logical date).

    :param params: ``external_ids``, ``from``, ``to``, ``force``.
    :param run_type: the DAG run's type (``scheduled``, ``manual``, ``backfill``...).
    :param logical_date: the run's logical date.
    :param schedule: the DAG's schedule, for a backfill's range.
    :raises include.symphonics.params.InvalidParam: for a bad param.
    """
    checked = publish_params(params)  # raises InvalidParam, naming the param
    from_at, to_at = checked.from_at, checked.to_at
    if run_type == "backfill" and from_at is None and to_at is None and logical_date is not None:
        from_at, to_at = backfill_range(logical_date, schedule)
    return extract_step.ExtractRequest(
        from_at=from_at,
        to_at=to_at,
        external_ids=checked.external_ids,
        force=checked.force,
    )


#: What ``extract``, ``prevalidate`` and ``validate_with_partner`` return in a dry run: the publish task does their
#: work in the dry run's one rolled-back transaction (``dry_run.py``) and reports their counts.
DRY_RUN_STEP = {"dry_run": "done by the publish task, in one transaction rolled back"}
#: The key of the publish task's result that holds the other steps' counts in a dry run.
DRY_RUN_STEPS_KEY = "dry_run_steps"


def _is_dry_run(params: Mapping[str, Any] | None) -> bool:
    return params is not None and publish_params(params).dry_run


def run_extract(
    params: Mapping[str, Any], *, run_id: str, run_type: str | None, logical_date: datetime | None, schedule: str
) -> dict[str, Any]:
    """Task ``extract`` (a dry run's is done by ``publish``)."""
    if _is_dry_run(params):
        return dict(DRY_RUN_STEP)
    settings = PublishSettings.from_environment()
    request = extract_request(params, run_type=run_type, logical_date=logical_date, schedule=schedule)
    counts = extract_step.extract(
        dsn(settings.app_conn_id), dsn(settings.sync_conn_id), request, run_id=run_id, settings=settings
    )
    # Read with psycopg, which no Airflow hook sees: the lineage collector is told here.
    lineage.report_app_tables(settings.app_conn_id, lineage.APP_TABLES_READ, direction="input")
    return counts.as_dict()


def _external_ids(params: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The rows a run given ``external_ids`` works on (checked as ``check_params`` did); () for every row."""
    return () if params is None else publish_params(params).external_ids


def run_prevalidate(*, run_id: str, params: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Task ``prevalidate``: given ``external_ids``, those rows only (a dry run's is done by ``publish``)."""
    if _is_dry_run(params):
        return {}
    settings = PublishSettings.from_environment()
    return prevalidate.prevalidate(
        dsn(settings.sync_conn_id), run_id=run_id, settings=settings, external_ids=_external_ids(params)
    )


def calls_of_run(sync_dsn: str, run_id: str, dag_id: str = PIPELINE) -> int:
    """Requests the run sent so far (retries and token requests included), by the call log.

    :param sync_dsn: the ``sync`` database.
    :param run_id: the Airflow run.
    :param dag_id: its DAG.
    """
    import psycopg

    with psycopg.connect(sync_dsn) as sync:
        row = sync.execute(query("calls_of_run"), {"dag_id": dag_id, "run_id": run_id}).fetchone()
    return int(row[0]) if row else 0


def _hook(settings: PublishSettings, run_id: str) -> SymphonicsHook:
    """The partner's hook, its client guarded by the kill switch and the run's budget.

    The budget counts each request as it leaves, from what the call log says the run sent before (an earlier
    task of the run, or an earlier try of this one): nothing is carried between tasks.
    """
    from include.symphonics.hook import SymphonicsHook

    sync_dsn = dsn(settings.sync_conn_id)
    budget = RunBudget(settings.call_budget, spent_before=lambda: calls_of_run(sync_dsn, run_id))
    return SymphonicsHook(settings.symphonics_conn_id, sync_conn_id=settings.sync_conn_id, budget=budget)


def _kill_switch_said(hook: SymphonicsHook, stopped: str | None) -> bool:
    """Whether the kill switch was on for this task (it refused a request, or is on now); logged when it was."""
    if stopped == "kill_switch" or hook.kill_switch_on():
        log.warning("kill switch (Variable symphonics_kill_switch) is on: no partner request left once it was read")
        return True
    return False


def alert_account_refused(settings: PublishSettings, run_id: str, task: str, refused: SymphonicsAuthError) -> None:
    """Raise the ``account_refused`` alert (once per run) through the notifier; its own failure is only logged.

    :param settings: the pipeline's settings (the ``sync`` database).
    :param run_id: the Airflow run.
    :param task: the task the partner refused.
    :param refused: the client's error (its message is redacted).
    """
    from types import SimpleNamespace

    from include.symphonics.alerts import Alert, SymphonicsAlertNotifier

    alert = Alert(
        "account_refused",
        "critical",
        f"Symphonics refuses the account ({task}): nothing is published until the credentials or rights are fixed",
        {"task": task, "status": refused.status, "code": refused.code, "request_id": refused.request_id},
    )
    try:
        notifier = SymphonicsAlertNotifier(
            [alert],
            sync_conn_id=settings.sync_conn_id,
            conn_id=os.environ.get("SYMPHONICS_ALERT_CONN_ID", "").strip() or None,
        )
        notifier.notify({"dag_run": SimpleNamespace(dag_id=PIPELINE, run_id=run_id)})
    except Exception:  # the task fails with the partner's refusal whatever happens to the alert
        log.exception("the account_refused alert could not be raised")


def run_partner_validation(*, run_id: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Task ``validate_with_partner`` (given ``external_ids``, those rows only): returns its counts, the requests
    it sent and the kill switch it saw (a dry run's is done by ``publish``)."""
    if _is_dry_run(params):
        return dict(DRY_RUN_STEP)
    settings = PublishSettings.from_environment()
    external_ids = _external_ids(params)
    hook = _hook(settings, run_id)
    try:
        try:
            counts = partner_validation.validate_with_partner(
                dsn(settings.sync_conn_id), hook.get_conn(), run_id=run_id, settings=settings, external_ids=external_ids
            )
        except SymphonicsAuthError as refused:
            alert_account_refused(settings, run_id, "validate_with_partner", refused)
            raise
        kill_switch = _kill_switch_said(hook, counts.stopped)
    finally:
        hook.close()  # also when the step fails: the client's HTTP session and sync connections go
    return {**counts.as_dict(), "calls": hook.guard.admitted, "kill_switch": kill_switch}


def run_publish(
    params: Mapping[str, Any],
    *,
    run_id: str,
    run_type: str | None = None,
    logical_date: datetime | None = None,
    schedule: str | None = None,
) -> dict[str, Any]:
    """Task ``publish``: spends what the run's earlier tasks left of its budget (read from the call log); given
    ``external_ids``, sends those rows only.

    A dry run does the whole pipeline here, in one transaction rolled back (``dry_run.py``): its result holds the
    other steps' counts under :data:`DRY_RUN_STEPS_KEY`. ``run_type``, ``logical_date`` and ``schedule`` are its
    extraction's (a backfill's range), as for :func:`run_extract`.
    """
    settings = PublishSettings.from_environment()
    hook = _hook(settings, run_id)
    try:
        client = hook.get_conn()
        if _is_dry_run(params):
            request = extract_request(
                params, run_type=run_type, logical_date=logical_date, schedule=schedule or "@daily"
            )
            planned = dry_run_step.dry_run(
                dsn(settings.app_conn_id), dsn(settings.sync_conn_id), client, request, run_id=run_id, settings=settings
            )
            kill_switch = _kill_switch_said(hook, planned.publish.stopped)
            # This task read the app (run_extract did not): its lineage says so; no partner output.
            lineage.report_app_tables(settings.app_conn_id, lineage.APP_TABLES_READ, direction="input")
            steps = {"extract": planned.extract, "local": planned.local, "partner": planned.partner}
            return {
                **planned.publish.as_dict(),
                "calls": hook.guard.admitted,
                "kill_switch": kill_switch,
                DRY_RUN_STEPS_KEY: steps,
            }
        try:
            counts = publisher.publish(
                dsn(settings.sync_conn_id), client, run_id=run_id, settings=settings, external_ids=_external_ids(params)
            )
        except SymphonicsAuthError as refused:
            alert_account_refused(settings, run_id, "publish", refused)
            raise
        kill_switch = _kill_switch_said(hook, counts.stopped)
        lineage.report_partner_interventions(hook, client.base_url, direction="output")
    finally:
        hook.close()
    return {**counts.as_dict(), "calls": hook.guard.admitted, "kill_switch": kill_switch}


def run_summarise(
    run: summary.RunInfo,
    params: Mapping[str, Any],
    extracted: Mapping[str, Any],
    local: Mapping[str, Any],
    partner: Mapping[str, Any],
    published: Mapping[str, Any],
) -> dict[str, Any]:
    """Task ``summarise`` (a dry run's step counts come with the publish task's)."""
    settings = PublishSettings.from_environment()
    done_by_publish = published.get(DRY_RUN_STEPS_KEY)
    if done_by_publish:
        extracted, local, partner = done_by_publish["extract"], done_by_publish["local"], done_by_publish["partner"]
        published = {key: value for key, value in published.items() if key != DRY_RUN_STEPS_KEY}
    return summary.summarise(
        dsn(settings.sync_conn_id),
        run,
        params=params,
        extract=extracted,
        local=local,
        partner=partner,
        published=published,
        kill_switch=bool(partner.get("kill_switch") or published.get("kill_switch")),
        calls_budget=settings.call_budget,
        operations_spent=int(partner.get("calls") or 0) + int(published.get("calls") or 0),
    )
