"""Poll the partner for the status of interventions the webhooks left unanswered, within the reconcile quota share.

The client sorts every failure: one it reports with ``nothing_sent`` (kill switch, quota share spent, open
breaker) ends the pass cleanly, the rest left for the next run; a 404 is an answer: the status becomes
``not_found`` and the ledger row ``dead_letter`` (``partner_not_found``), never created again; other failures
are counted. The answer's ``next_steps`` are kept with the status (``intervention_sync_state.next_steps``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from include.symphonics.client import RECONCILE, SymphonicsError, SymphonicsNotFound
from include.symphonics.core.states import AT_PARTNER_STATES, LedgerState, sources_of
from include.symphonics.reconcile.sqlfiles import query

log = logging.getLogger(__name__)

NOT_FOUND = "not_found"
#: The states of a published row a 404 moves to dead_letter (those the partner holds it in, with its id).
NOT_FOUND_FROM = sorted(
    state for state in sources_of(LedgerState.DEAD_LETTER) if LedgerState(state) in AT_PARTNER_STATES
)
#: Consecutive unavailable answers after which the run stops polling (the partner is down; tomorrow is soon enough).
MAX_CONSECUTIVE_UNAVAILABLE = 3


class StatusReader(Protocol):
    """What the poll needs of the partner: the ``SymphonicsClient`` fits."""

    def get_intervention(self, symphonics_id: str, *, priority: str = ...) -> Any:
        """``GET /crm/interventions/{id}``."""


@dataclass
class PollCounts:
    """What one poll pass did."""

    candidates: int = 0
    polled: int = 0
    changed: int = 0
    not_found: int = 0
    errors: int = 0
    deferred: int = 0
    quota_exhausted: bool = False
    #: Why the pass stopped before the end (``kill_switch``, ``quota``, ``unavailable``, ``budget``), if it did.
    stopped: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The counts, for XCom and the log."""
        return asdict(self)


def _moment(value: str | None) -> datetime:
    if value:
        try:
            parsed = datetime.fromisoformat(value)
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
        except ValueError:
            pass
    return datetime.now(UTC)


def poll_statuses(
    sync_dsn: str,
    reader_factory: Callable[[], StatusReader],
    *,
    run_id: str | None,
    quiet_for_seconds: float,
    max_polls: int,
) -> PollCounts:
    """Ask the partner for each candidate's status, one ``GET`` each, recording every change.

    Candidates: those queued by late webhooks, then published interventions not in a final state and heard of
    neither by webhook nor by poll for ``quiet_for_seconds``. Stops cleanly when the client refuses a call before
    sending it (kill switch, reconcile share of the quota spent, open breaker) or after
    :data:`MAX_CONSECUTIVE_UNAVAILABLE` failures in a row: the rest are polled next night.

    :param sync_dsn: the ``sync`` database.
    :param reader_factory: gives the partner client (only called when there is something to poll).
    :param run_id: the Airflow run, recorded on the history rows.
    :param quiet_for_seconds: how long without news before a published intervention is polled.
    :param max_polls: the most calls this pass makes.
    """
    counts = PollCounts()
    now = datetime.now(UTC)
    with psycopg.connect(sync_dsn, autocommit=True, row_factory=dict_row) as conn:
        candidates = conn.execute(
            query("poll_candidates"),
            {"quiet_before": now - timedelta(seconds=quiet_for_seconds), "limit": max_polls},
        ).fetchall()
        counts.candidates = len(candidates)
        if not candidates:
            return counts
        reader = reader_factory()
        unavailable_in_a_row = 0
        for index, candidate in enumerate(candidates):
            not_found: SymphonicsNotFound | None = None
            next_steps: list[dict[str, Any]] | None = None
            try:
                intervention = reader.get_intervention(candidate["symphonics_id"], priority=RECONCILE)
                status, notes, occurred_at = intervention.status or "unknown", None, _moment(intervention.updated_at)
                next_steps = [asdict(step) for step in getattr(intervention, "next_steps", ())]
                unavailable_in_a_row = 0
            except SymphonicsNotFound as exc:
                status, notes, occurred_at = NOT_FOUND, "the partner answered 404", datetime.now(UTC)
                not_found = exc
                counts.not_found += 1
            except SymphonicsError as exc:
                if exc.nothing_sent:
                    counts.stopped = exc.refusal
                    counts.quota_exhausted = exc.refusal == "quota"
                    counts.deferred = len(candidates) - index
                    log.warning(
                        "polls stopped (%s): %s; %s poll(s) left for the next run", exc.refusal, exc, counts.deferred
                    )
                    break
                counts.errors += 1
                if not exc.retryable:
                    log.warning("poll of %s refused: %s", candidate["external_id"], exc)
                    continue
                unavailable_in_a_row += 1
                log.warning("poll of %s failed: %s", candidate["external_id"], exc)
                if unavailable_in_a_row >= MAX_CONSECUTIVE_UNAVAILABLE:
                    counts.stopped = "unavailable"
                    counts.deferred = len(candidates) - index - 1
                    log.warning("the partner is unavailable: %s poll(s) left for the next run", counts.deferred)
                    break
                continue
            counts.polled += 1
            with conn.transaction():
                conn.execute(
                    query("record_poll"),
                    {
                        "external_id": candidate["external_id"],
                        "symphonics_id": candidate["symphonics_id"],
                        "status": status,
                        "notes": notes,
                        "occurred_at": occurred_at,
                        "run_id": run_id,
                        "next_steps": None if next_steps is None else Jsonb(next_steps),
                    },
                )
                if not_found is not None:
                    conn.execute(
                        query("ledger_not_found"),
                        {
                            "external_id": candidate["external_id"],
                            "symphonics_id": candidate["symphonics_id"],
                            "message": not_found.message,
                            "request_id": not_found.request_id,
                            "run_id": run_id,
                            "from_states": NOT_FOUND_FROM,
                        },
                    )
                if candidate["queue_id"] is not None:
                    conn.execute(query("finish_queued_poll"), {"queue_id": candidate["queue_id"]})
    counts.changed = _changes_recorded(sync_dsn, run_id)
    log.info(
        "polls: %s candidate(s), %s polled, %s status change(s), %s not found, %s error(s), %s deferred",
        counts.candidates,
        counts.polled,
        counts.changed,
        counts.not_found,
        counts.errors,
        counts.deferred,
    )
    return counts


def _changes_recorded(sync_dsn: str, run_id: str | None) -> int:
    with psycopg.connect(sync_dsn) as conn:
        row = conn.execute(query("poll_changes"), {"run_id": run_id}).fetchone()
    return int(row[0]) if row else 0
