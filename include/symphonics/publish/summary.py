"""Step 5: the run's summary, in ``symphonics.publish_runs`` and in the task log."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from include.symphonics.publish.sqlfiles import query

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunInfo:
    """The Airflow run a summary belongs to."""

    dag_id: str
    run_id: str
    run_type: str | None = None
    logical_date: datetime | None = None
    started_at: datetime | None = None


def summarise(
    sync_dsn: str,
    run: RunInfo,
    *,
    params: Mapping[str, Any],
    extract: Mapping[str, Any],
    local: Mapping[str, Any],
    partner: Mapping[str, Any],
    published: Mapping[str, Any],
    kill_switch: bool,
    calls_budget: int,
    operations_spent: int,
) -> dict[str, Any]:
    """Write the run's row of ``symphonics.publish_runs`` and log it.

    :param sync_dsn: the ``sync`` database.
    :param run: the Airflow run.
    :param params: the run's params.
    :param extract: the extraction's counts.
    :param local: the local rules' counts per state.
    :param partner: the partner validation's counts.
    :param published: the publish step's counts.
    :param kill_switch: whether the kill switch was on.
    :param calls_budget: the run's call budget.
    :param operations_spent: partner operations the steps counted (the call log's count is preferred).
    :return: the summary row, with the requested external ids the app does not have
        (``missing_external_ids``, also in the row's ``detail``).
    """
    stopped = partner.get("stopped") or published.get("stopped")
    with psycopg.connect(sync_dsn) as sync:
        logged = sync.execute(query("calls_of_run"), {"dag_id": run.dag_id, "run_id": run.run_id}).fetchone()
        calls_spent = max(int(logged[0]) if logged else 0, operations_spent)
        summary: dict[str, Any] = {
            **_run_columns(run, params, kill_switch=kill_switch),
            **_count_columns(extract, local, partner, published, stopped=stopped),
            "calls_spent": calls_spent,
            "calls_budget": calls_budget,
            "backlog": int(published.get("backlog") or 0),
            "backlog_eta": published.get("eta"),
            "detail": Jsonb(
                {
                    "stopped": stopped,
                    "extract": dict(extract),
                    "local": dict(local),
                    "partner": dict(partner),
                    "publish": dict(published),
                }
            ),
        }
        sync.execute(query("run_summary_upsert"), summary)
    shown = {key: value for key, value in summary.items() if not isinstance(value, Jsonb)}
    _log_summary(run.run_id, shown, calls_budget=calls_budget, kill_switch=kill_switch, stopped=stopped)
    shown["stopped"] = stopped
    shown["missing_external_ids"] = _missing_external_ids(run.run_id, extract)
    shown["logical_date"] = None if run.logical_date is None else run.logical_date.isoformat()
    shown["started_at"] = None if run.started_at is None else run.started_at.isoformat()
    return shown


def _run_columns(run: RunInfo, params: Mapping[str, Any], *, kill_switch: bool) -> dict[str, Any]:
    """The summary row's columns that describe the run (which, when, with what params)."""
    return {
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "run_type": run.run_type,
        "logical_date": run.logical_date,
        "started_at": run.started_at,
        "params": Jsonb(dict(params)),
        "dry_run": bool(params.get("dry_run")),
        "kill_switch": kill_switch,
    }


def _count_columns(
    extract: Mapping[str, Any],
    local: Mapping[str, Any],
    partner: Mapping[str, Any],
    published: Mapping[str, Any],
    *,
    stopped: str | None,
) -> dict[str, int]:
    """The summary row's counts, from the steps' results (a count a step did not give is 0).

    :param stopped: why the partner steps stopped early (``quota``, ``budget``, ``kill_switch``), if they did: a
        backlog left by the quota or the budget is deferred, not failed.
    """
    backlog = int(published.get("backlog") or 0)
    return {
        "extracted": int(extract.get("extracted") or 0),
        "skipped": int(extract.get("skipped") or 0),
        "out_of_scope": int(local.get("out_of_scope") or 0),
        "invalid": int(local.get("invalid") or 0),
        "rejected": int(partner.get("rejected") or 0) + int(published.get("rejected") or 0),
        "published": int(published.get("published") or 0),
        "updated": int(published.get("updated") or 0),
        "changed_after_publish": int(local.get("changed_after_publish") or 0),
        "conflict_unresolved": int(published.get("conflict_unresolved") or 0),
        "failed_retryable": int(published.get("failed_retryable") or 0),
        "dead_letter": int(published.get("dead_letter") or 0),
        "deferred_by_quota": backlog if stopped in ("quota", "budget") else 0,
    }


def _log_summary(
    run_id: str, shown: Mapping[str, Any], *, calls_budget: int, kill_switch: bool, stopped: str | None
) -> None:
    """The summary in the task log, on one line (counts only: no personal data)."""
    log.info(
        "publish run %s: extracted %s, skipped %s, out of scope %s, invalid %s, rejected %s, published %s, "
        "updated %s, changed after publish %s, conflict unresolved %s, failed %s, dead letter %s, deferred by "
        "quota %s, calls %s/%s%s%s",
        run_id,
        shown["extracted"],
        shown["skipped"],
        shown["out_of_scope"],
        shown["invalid"],
        shown["rejected"],
        shown["published"],
        shown["updated"],
        shown["changed_after_publish"],
        shown["conflict_unresolved"],
        shown["failed_retryable"],
        shown["dead_letter"],
        shown["deferred_by_quota"],
        shown["calls_spent"],
        calls_budget,
        " — KILL SWITCH ON: no partner call was made" if kill_switch else "",
        f" — stopped: {stopped}" if stopped else "",
    )


def _missing_external_ids(run_id: str, extract: Mapping[str, Any]) -> list[str]:
    """The requested external ids the app does not have (logged: they are the app's references, not personal)."""
    missing = [str(external_id) for external_id in extract.get("missing_external_ids") or ()]
    if missing:
        log.warning("publish run %s: requested external id(s) the app does not have: %s", run_id, ", ".join(missing))
    return missing
