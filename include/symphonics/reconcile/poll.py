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
        _poll_candidates(conn, reader_factory(), candidates, counts, run_id=run_id)
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


@dataclass(frozen=True)
class _Answer:
    """The partner's answer about one intervention, as recorded: its status, or ``not_found`` after a 404."""

    status: str
    notes: str | None
    occurred_at: datetime
    next_steps: list[dict[str, Any]] | None = None
    #: The 404, which also moves the ledger row to dead_letter.
    not_found: SymphonicsNotFound | None = None


def _poll_candidates(
    conn: psycopg.Connection[dict[str, Any]],
    reader: StatusReader,
    candidates: list[dict[str, Any]],
    counts: PollCounts,
    *,
    run_id: str | None,
) -> None:
    """Poll the candidates in order, recording each answer, until the end or until a failure stops the pass.

    :param conn: the ``sync`` database (autocommit: each answer is its own transaction).
    :param reader: the partner client.
    :param candidates: the rows of ``poll_candidates.sql``.
    :param counts: updated in place.
    :param run_id: the Airflow run, recorded on the history rows.
    """
    unavailable_in_a_row = 0
    for index, candidate in enumerate(candidates):
        try:
            answer = _ask_partner(reader, candidate["symphonics_id"])
        except SymphonicsError as exc:
            stop, unavailable_in_a_row = _count_failure(
                exc, candidate["external_id"], len(candidates) - index, counts, unavailable_in_a_row
            )
            if stop:
                break
            continue
        if answer.not_found is None:
            # Only a real answer ends a run of unavailable ones (a 404 leaves the count as it was).
            unavailable_in_a_row = 0
        else:
            counts.not_found += 1
        counts.polled += 1
        _record_answer(conn, candidate, answer, run_id=run_id)


def _ask_partner(reader: StatusReader, symphonics_id: str) -> _Answer:
    """One ``GET``: the status the partner holds, or ``not_found`` when it answers 404; other failures raise.

    :param reader: the partner client.
    :param symphonics_id: the partner's id of the intervention.
    """
    try:
        intervention = reader.get_intervention(symphonics_id, priority=RECONCILE)
    except SymphonicsNotFound as exc:
        return _Answer(NOT_FOUND, "the partner answered 404", datetime.now(UTC), not_found=exc)
    return _Answer(
        intervention.status or "unknown",
        None,
        _moment(intervention.updated_at),
        [asdict(step) for step in getattr(intervention, "next_steps", ())],
    )


def _count_failure(
    exc: SymphonicsError, external_id: str, remaining: int, counts: PollCounts, unavailable_in_a_row: int
) -> tuple[bool, int]:
    """Count a poll that got no answer; return whether the pass stops there, and the unavailable answers in a row.

    :param exc: the client's error.
    :param external_id: the app's id of the intervention (logged).
    :param remaining: the candidates not yet answered, this one included.
    :param counts: updated in place.
    :param unavailable_in_a_row: the retryable failures just before this one.
    """
    if exc.nothing_sent:
        counts.stopped = exc.refusal
        counts.quota_exhausted = exc.refusal == "quota"
        counts.deferred = remaining
        log.warning("polls stopped (%s): %s; %s poll(s) left for the next run", exc.refusal, exc, counts.deferred)
        return True, unavailable_in_a_row
    counts.errors += 1
    if not exc.retryable:
        log.warning("poll of %s refused: %s", external_id, exc)
        return False, unavailable_in_a_row
    unavailable_in_a_row += 1
    log.warning("poll of %s failed: %s", external_id, exc)
    if unavailable_in_a_row >= MAX_CONSECUTIVE_UNAVAILABLE:
        counts.stopped = "unavailable"
        counts.deferred = remaining - 1
        log.warning("the partner is unavailable: %s poll(s) left for the next run", counts.deferred)
        return True, unavailable_in_a_row
    return False, unavailable_in_a_row


def _record_answer(
    conn: psycopg.Connection[dict[str, Any]], candidate: dict[str, Any], answer: _Answer, *, run_id: str | None
) -> None:
    """Record one answer in one transaction: the status, the ledger's dead_letter after a 404, the queue entry done.

    :param conn: the ``sync`` database.
    :param candidate: the row of ``poll_candidates.sql``.
    :param answer: what the partner said.
    :param run_id: the Airflow run, recorded on the history rows.
    """
    with conn.transaction():
        conn.execute(
            query("record_poll"),
            {
                "external_id": candidate["external_id"],
                "symphonics_id": candidate["symphonics_id"],
                "status": answer.status,
                "notes": answer.notes,
                "occurred_at": answer.occurred_at,
                "run_id": run_id,
                "next_steps": None if answer.next_steps is None else Jsonb(answer.next_steps),
            },
        )
        if answer.not_found is not None:
            conn.execute(
                query("ledger_not_found"),
                {
                    "external_id": candidate["external_id"],
                    "symphonics_id": candidate["symphonics_id"],
                    "message": answer.not_found.message,
                    "request_id": answer.not_found.request_id,
                    "run_id": run_id,
                    "from_states": NOT_FOUND_FROM,
                },
            )
        if candidate["queue_id"] is not None:
            conn.execute(query("finish_queued_poll"), {"queue_id": candidate["queue_id"]})


def _changes_recorded(sync_dsn: str, run_id: str | None) -> int:
    with psycopg.connect(sync_dsn) as conn:
        row = conn.execute(query("poll_changes"), {"run_id": run_id}).fetchone()
    return int(row[0]) if row else 0
