"""The publish DAG's task bodies: each resolves connections and settings at run time, then calls a step.

Nothing here runs at parse time. The DAG file only wires these functions into tasks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from include.symphonics.client import PUBLISH
from include.symphonics.db import dsn
from include.symphonics.params import publish_params
from include.symphonics.publish import extract as extract_step
from include.symphonics.publish import partner_validation, prevalidate, publisher, summary
from include.symphonics.publish.partner import PartnerGateway
from include.symphonics.publish.settings import KILL_SWITCH_VARIABLE, PublishSettings

log = logging.getLogger(__name__)


def kill_switch_on() -> bool:
    """Whether ops turned the kill switch on (Airflow Variable ``symphonics_kill_switch`` = ``on``), read now."""
    from airflow.sdk import Variable

    value = Variable.get(KILL_SWITCH_VARIABLE, default="off")
    return str(value).strip().lower() in ("on", "true", "1", "yes")


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


def run_extract(
    params: Mapping[str, Any], *, run_id: str, run_type: str | None, logical_date: datetime | None, schedule: str
) -> dict[str, Any]:
    """Task ``extract``."""
    settings = PublishSettings.from_environment()
    request = extract_request(params, run_type=run_type, logical_date=logical_date, schedule=schedule)
    counts = extract_step.extract(
        dsn(settings.app_conn_id), dsn(settings.sync_conn_id), request, run_id=run_id, settings=settings
    )
    return counts.as_dict()


def run_prevalidate(*, run_id: str) -> dict[str, int]:
    """Task ``prevalidate``."""
    settings = PublishSettings.from_environment()
    return prevalidate.prevalidate(dsn(settings.sync_conn_id), run_id=run_id, settings=settings)


def _gateway(settings: PublishSettings, *, budget: int, kill_switch: bool) -> PartnerGateway:
    if kill_switch:
        log.warning("kill switch %s is on: no partner call is made in this run", KILL_SWITCH_VARIABLE)
        return PartnerGateway(api=None, budget=budget, kill_switch=True)
    from include.symphonics.hook import SymphonicsHook

    hook = SymphonicsHook(settings.symphonics_conn_id, sync_conn_id=settings.sync_conn_id)
    return PartnerGateway(api=hook, budget=budget)


def run_partner_validation(*, run_id: str) -> dict[str, Any]:
    """Task ``validate_with_partner``: returns its counts, the calls it made and the kill switch it saw."""
    settings = PublishSettings.from_environment()
    kill_switch = kill_switch_on()
    gateway = _gateway(settings, budget=settings.call_budget, kill_switch=kill_switch)
    try:
        counts = partner_validation.validate_with_partner(
            dsn(settings.sync_conn_id), gateway, run_id=run_id, settings=settings
        )
    finally:
        _close(gateway)
    return {**counts.as_dict(), "calls": gateway.spent, "kill_switch": kill_switch}


def run_publish(params: Mapping[str, Any], *, run_id: str, calls_before: int) -> dict[str, Any]:
    """Task ``publish``: spends what the validation left of the run's budget."""
    settings = PublishSettings.from_environment()
    kill_switch = kill_switch_on()
    dry_run = bool(params.get("dry_run"))
    gateway = _gateway(
        settings, budget=max(settings.call_budget - calls_before, 0), kill_switch=kill_switch and not dry_run
    )
    daily_capacity = None
    client_settings = getattr(gateway.api, "settings", None)
    if client_settings is not None:
        daily_capacity = client_settings.quota_policy().class_cap(PUBLISH)
    try:
        counts = publisher.publish(
            dsn(settings.sync_conn_id),
            gateway,
            run_id=run_id,
            settings=settings,
            dry_run=dry_run,
            daily_capacity=daily_capacity,
        )
    finally:
        _close(gateway)  # also when the step fails: the client's HTTP session and sync connection go
    return {**counts.as_dict(), "calls": gateway.spent, "kill_switch": kill_switch}


def _close(gateway: PartnerGateway) -> None:
    closer = getattr(gateway.api, "close", None)
    if callable(closer):
        closer()


def run_summarise(
    run: summary.RunInfo,
    params: Mapping[str, Any],
    extracted: Mapping[str, Any],
    local: Mapping[str, Any],
    partner: Mapping[str, Any],
    published: Mapping[str, Any],
) -> dict[str, Any]:
    """Task ``summarise``."""
    settings = PublishSettings.from_environment()
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
