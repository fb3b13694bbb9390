"""Step 4: create the new interventions, PATCH the new documents of published ones, each exactly once.

Rows are claimed in batches (``sql/publish/claim_for_publish.sql``): the claim is an ``UPDATE`` over a
``SELECT … FOR UPDATE SKIP LOCKED`` that stamps the rows with this publisher's claim key, and the publisher
holds the session-level advisory lock of that key while it works. Another publisher skips rows whose claim
key's lock is held, and takes over the rows of a publisher that died (its session, hence its lock, is gone).

Each row is moved to ``sending`` and committed before its request leaves; the answer is committed right after.
A crash in between leaves ``sending``, which the next run resolves by sending the create again: the partner
answers 201 (it never arrived) or 409 (it did: with the id, or without, then ``conflict_unresolved``).

The client sorts every failure once; this step reads its attributes and types: ``nothing_sent`` (kill switch,
budget, quota, open breaker: the row goes back to ``ready`` and the step stops), ``retryable``
(``failed_retryable``, then ``dead_letter`` after too many attempts) or a refusal of the row
(``rejected_validation``, or ``dead_letter`` with ``partner_forbidden`` for a 403, ``partner_not_found`` for a 404
on a PATCH: never created again). A 201 without an id is ``conflict_unresolved`` (``created_id_unknown``): the
partner holds it, a webhook or the reconciliation gives its id.

The account refused (:class:`SymphonicsAuthError`: the token endpoint's 400/401/403, a 401 with a fresh token, or
``account_forbidden_after`` 403s in a row on distinct rows, see :mod:`~include.symphonics.publish.forbidden`)
stops the run: the rows it was sending go back to the state they were claimed from, their attempt undone (a
refusal proves nothing was created), and the error is raised for the task to fail and alert. A row is never sent
more than ``max_attempts`` times across runs: one left ``sending`` by crashes beyond that goes to ``dead_letter``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from include.symphonics.client import (
    PUBLISH,
    CallRefused,
    CreateOutcome,
    QuotaExhausted,
    SymphonicsAuthError,
    SymphonicsClient,
    SymphonicsError,
    SymphonicsForbidden,
    SymphonicsNotFound,
    SymphonicsValidationError,
)
from include.symphonics.core.metrics import MetricsSink
from include.symphonics.core.metrics import name as metric
from include.symphonics.core.states import LedgerState, Reason, check_transition, sources_of
from include.symphonics.publish.forbidden import ForbiddenStreak
from include.symphonics.publish.payload import fingerprint, new_documents
from include.symphonics.publish.settings import PublishSettings
from include.symphonics.publish.sqlfiles import claim_scope, query

log = logging.getLogger(__name__)

#: The advisory-lock class of publish claims ("SY" "PB"), so the keys never meet another lock user's.
CLAIM_LOCK_CLASS = 0x5359_5042 & 0x7FFF_FFFF


@dataclass
class PublishCounts:
    """What the step did."""

    created: int = 0
    already_existed: int = 0
    conflict_unresolved: int = 0
    patched: int = 0
    rejected: int = 0
    failed_retryable: int = 0
    dead_letter: int = 0
    forbidden: int = 0
    not_found: int = 0
    would_create: int = 0
    would_patch: int = 0
    #: What a dry run would send, one dict a row (``dry_run.py``; stored by ``dry_run_record.sql`` for the dashboard).
    planned: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None
    backlog: int = 0
    eta: str | None = None
    by_outcome: Counter[str] = field(default_factory=Counter)

    @property
    def published(self) -> int:
        """Rows that reached ``published`` (created now or found by a 409 with the id)."""
        return self.created + self.already_existed

    def as_dict(self) -> dict[str, Any]:
        """For XCom and the run summary."""
        return {
            "published": self.published,
            "created": self.created,
            "already_existed": self.already_existed,
            "conflict_unresolved": self.conflict_unresolved,
            "updated": self.patched,
            "rejected": self.rejected,
            "failed_retryable": self.failed_retryable,
            "dead_letter": self.dead_letter,
            "forbidden": self.forbidden,
            "not_found": self.not_found,
            "would_create": self.would_create,
            "would_patch": self.would_patch,
            "stopped": self.stopped,
            "backlog": self.backlog,
            "eta": self.eta,
        }


def _outcome(
    row_id: int,
    state: LedgerState,
    *,
    reason: Reason | None = None,
    detail: str | None = None,
    symphonics_id: str | None = None,
    sent_payload: dict[str, Any] | None = None,
    sent_documents: list[dict[str, Any]] | None = None,
    error: SymphonicsError | None = None,
    request_id: str | None = None,
    undo_attempt: bool = False,
) -> dict[str, Any]:
    """The parameters of ``sql/publish/publish_outcome.sql``: a row in ``sending`` moved to ``state``."""
    check_transition(LedgerState.SENDING, state)
    return {
        "id": row_id,
        "state": state.value,
        "reason": None if reason is None else reason.value,
        "detail": detail,
        "symphonics_id": symphonics_id,
        "sent_payload": None if sent_payload is None else Jsonb(sent_payload),
        "sent_fingerprint": None if sent_payload is None else fingerprint(sent_payload),
        "sent_documents": None if sent_documents is None else Jsonb(sent_documents),
        "error_code": None
        if error is None
        else (error.code or (str(error.status) if error.status else type(error).__name__)),
        "error_message": None if error is None else error.message,
        "request_id": request_id if error is None else error.request_id,
        "http_status": None if error is None else error.status,
        "undo_attempt": undo_attempt,
    }


def _create(row: dict[str, Any], client: SymphonicsClient, counts: PublishCounts) -> dict[str, Any]:
    """Create a row never published: ``published`` (201, or 409 with the id), else ``conflict_unresolved``."""
    payload = row["payload"]
    result = client.create_intervention(payload, priority=PUBLISH)
    documents = list(payload.get("documents") or [])
    if result.outcome is CreateOutcome.ALREADY_EXISTS_ID_UNKNOWN:
        counts.conflict_unresolved += 1
        return _outcome(
            row["id"],
            LedgerState.CONFLICT_UNRESOLVED,
            reason=Reason.CONFLICT_ID_UNKNOWN,
            detail="the partner holds it (409) without its id: a webhook or the reconciliation completes it",
            sent_payload=payload,
            sent_documents=documents,
            request_id=result.request_id,
        )
    if result.symphonics_id is None:
        # A 201 that names no id: the partner holds the intervention, so it is never created again; its id
        # comes from a webhook or the reconciliation, as after a 409 without one.
        counts.conflict_unresolved += 1
        log.warning("%s created, but the partner's answer holds no id", row["external_id"])
        return _outcome(
            row["id"],
            LedgerState.CONFLICT_UNRESOLVED,
            reason=Reason.CREATED_ID_UNKNOWN,
            detail="created (201) without an id in the answer: a webhook or the reconciliation completes it",
            sent_payload=payload,
            sent_documents=documents,
            request_id=result.request_id,
        )
    if result.outcome is CreateOutcome.CREATED:
        counts.created += 1
    else:
        counts.already_existed += 1
    return _outcome(
        row["id"],
        LedgerState.PUBLISHED,
        symphonics_id=result.symphonics_id,
        sent_payload=payload,
        sent_documents=documents,
        request_id=result.request_id,
    )


def _patch(row: dict[str, Any], client: SymphonicsClient, counts: PublishCounts) -> dict[str, Any]:
    """PATCH a published row with the documents the partner does not hold yet: ``updated``."""
    payload = row["payload"]
    sent_documents = list(row["sent_documents"] or [])
    added = new_documents(payload.get("documents") or [], sent_documents)
    if not added:
        # Nothing new to carry (a PATCH answered before a crash, then re-extracted): nothing to send.
        return _outcome(row["id"], LedgerState.UPDATED, sent_payload=payload, undo_attempt=True)
    client.update_intervention(row["symphonics_id"], {"documents": added}, priority=PUBLISH)
    counts.patched += 1
    return _outcome(row["id"], LedgerState.UPDATED, sent_payload=payload, sent_documents=[*sent_documents, *added])


def _failure(
    row: dict[str, Any], attempts: int, error: SymphonicsError, settings: PublishSettings, counts: PublishCounts
) -> dict[str, Any]:
    """A request sent and failed: refused (``rejected_validation``), to retry, or ``dead_letter``."""
    if isinstance(error, SymphonicsForbidden | SymphonicsNotFound):
        forbidden = isinstance(error, SymphonicsForbidden)
        counts.dead_letter += 1
        if forbidden:
            counts.forbidden += 1
        else:
            counts.not_found += 1
        log.error("%s goes to dead_letter: the partner answered %s: %s", row["external_id"], error.status, error)
        detail = (
            "the partner refuses this intervention to the account (403)"
            if forbidden
            else "the partner does not know this intervention's id (404): never created again, ops must look"
        )
        return _outcome(
            row["id"],
            LedgerState.DEAD_LETTER,
            reason=Reason.PARTNER_FORBIDDEN if forbidden else Reason.PARTNER_NOT_FOUND,
            detail=f"{detail}: {error}",
            error=error,
        )
    if isinstance(error, SymphonicsValidationError):
        counts.rejected += 1
        log.warning("%s refused by the partner despite the local rules: %s", row["external_id"], error)
        return _outcome(
            row["id"], LedgerState.REJECTED_VALIDATION, reason=Reason.PARTNER_REFUSED, detail=str(error), error=error
        )
    retryable = error.retryable
    if attempts >= settings.max_attempts or not retryable:
        counts.dead_letter += 1
        reason = Reason.TOO_MANY_ATTEMPTS if retryable else Reason.PARTNER_REFUSED
        log.error("%s goes to dead_letter after %s attempt(s): %s", row["external_id"], attempts, error)
        return _outcome(row["id"], LedgerState.DEAD_LETTER, reason=reason, detail=str(error), error=error)
    counts.failed_retryable += 1
    return _outcome(
        row["id"],
        LedgerState.FAILED_RETRYABLE,
        reason=Reason.PARTNER_UNAVAILABLE,
        detail=f"attempt {attempts} failed: {error}",
        error=error,
    )


def _send_one(
    row: dict[str, Any], attempts: int, client: SymphonicsClient, settings: PublishSettings, counts: PublishCounts
) -> dict[str, Any]:
    """Send one claimed row (already committed as ``sending``) and return the outcome to record.

    :raises SymphonicsError: with ``nothing_sent``: nothing was sent (kill switch, budget, quota, breaker open).
    :raises SymphonicsAuthError: the account is refused: the run stops.
    :raises SymphonicsForbidden: the row is refused (403): the caller counts it towards the account's refusal.
    """
    try:
        if row["symphonics_id"] is None:
            return _create(row, client, counts)
        return _patch(row, client, counts)
    except (SymphonicsAuthError, SymphonicsForbidden):
        raise
    except SymphonicsError as error:
        if error.nothing_sent:
            raise
        return _failure(row, attempts, error, settings, counts)


def _answered(outcome: dict[str, Any]) -> bool:
    """Whether the partner answered the row with something other than a 403 or a failure of its own (5xx, 429,
    no reply): the account has access, so a streak of 403s ends."""
    status = outcome["http_status"]
    if outcome["error_code"] is None:
        return outcome["state"] in (LedgerState.PUBLISHED, LedgerState.UPDATED, LedgerState.CONFLICT_UNRESOLVED)
    return status is not None and status < 500 and status not in (403, 429)


def _eta(backlog: int, stop: SymphonicsError) -> str | None:
    if not isinstance(stop, QuotaExhausted) or stop.resets_at is None:
        return None
    resets_at, daily_capacity = stop.resets_at, stop.daily_cap
    days = 0 if not daily_capacity else max(backlog - 1, 0) // daily_capacity
    return datetime.fromtimestamp(resets_at + days * 86400, tz=UTC).isoformat(timespec="seconds")


@contextmanager
def claim_key_held(sync_dsn: str) -> Iterator[int]:
    """A new claim key whose advisory lock a session of its own holds while the block runs.

    On the way out, the rows still claimed with the key are given back, then the lock is released; if the
    process dies instead, the session's end releases the lock and another publisher takes the rows over.

    :param sync_dsn: the ``sync`` database.
    """
    with psycopg.connect(sync_dsn, autocommit=True) as owner:
        key_row = owner.execute(query("claim_key_next")).fetchone()
        assert key_row is not None
        lock = {"lock_class": CLAIM_LOCK_CLASS, "claim_key": int(key_row[0])}
        owner.execute(query("claim_lock"), lock)
        try:
            yield lock["claim_key"]
        finally:
            owner.execute(query("release_claims"), lock)
            owner.execute(query("claim_unlock"), lock)


def _guard_refusal(client: SymphonicsClient) -> CallRefused | None:
    """Why no call may leave now (kill switch, budget, quota, open breaker), or None."""
    try:
        client.guard.check()
    except CallRefused as refused:
        return refused
    return None


@dataclass
class _PublishRun:
    """One publisher's run over its claim: the batches, each row's mark, send and record."""

    sync: psycopg.Connection
    claim_key: int
    client: SymphonicsClient
    settings: PublishSettings
    counts: PublishCounts
    sink: MetricsSink
    run_id: str
    #: The external ids the run was given (None: every row to send).
    scope: list[str] | None = None
    #: The 403s since the partner last answered anything else (see :mod:`~include.symphonics.publish.forbidden`).
    streak: ForbiddenStreak = field(default_factory=lambda: ForbiddenStreak(3))
    #: Rows refused (403) in the current streak, still ``sending``: set aside once the streak ends short of the
    #: account's refusal, given back if it reaches it. A crash meanwhile leaves them ``sending``: sent again.
    held: list[tuple[dict[str, Any], int, SymphonicsForbidden]] = field(default_factory=list)

    def send_batches(self) -> SymphonicsError | None:
        """Claim and send batch after batch until none is left; why it stopped early, if it did."""
        after_id = 0
        while True:
            refused = _guard_refusal(self.client)  # no claim while no call may leave
            if refused is not None:
                return refused
            rows = self.claim_batch(after_id)
            if not rows:
                return None
            after_id = rows[-1]["id"]
            stop = self.send_batch(rows)
            if stop is not None:
                return stop

    def claim_batch(self, after_id: int) -> list[dict[str, Any]]:
        """The next batch of rows to send (``sql/publish/claim_for_publish.sql``), in id order."""
        with self.sync.transaction(), self.sync.cursor(row_factory=dict_row) as cur:
            cur.execute(
                query("claim_for_publish"),
                {
                    "claim_key": self.claim_key,
                    "lock_class": CLAIM_LOCK_CLASS,
                    "after_id": after_id,
                    "batch_size": self.settings.batch_size,
                    "external_ids": self.scope,
                },
            )
            return sorted(cur.fetchall(), key=lambda claimed: claimed["id"])

    def send_batch(self, rows: list[dict[str, Any]]) -> SymphonicsError | None:
        """Send each row of a batch; why it stopped early, if it did."""
        for row in rows:
            refused = _guard_refusal(self.client)
            stop = refused if refused is not None else self.send_row(row)
            if stop is not None:
                return stop
        return None

    def send_row(self, row: dict[str, Any]) -> SymphonicsError | None:
        """Mark the row ``sending`` (committed), send it, record the answer; the refusal that stops the run."""
        with self.sync.transaction():
            marked = self.sync.execute(
                query("mark_sending"),
                {
                    "id": row["id"],
                    "claim_key": self.claim_key,
                    "run_id": self.run_id,
                    "from_states": sources_of(LedgerState.SENDING),
                },
            ).fetchone()
        if marked is None:
            return None  # taken over meanwhile: not ours any more
        attempts = int(marked[0])
        if attempts > self.settings.max_attempts:
            # Left `sending` by crashes again and again: never sent more than max_attempts times across runs.
            self.counts.dead_letter += 1
            log.error("%s goes to dead_letter: %s sends without a recorded answer", row["external_id"], attempts - 1)
            detail = f"sent {attempts - 1} time(s) without a recorded answer (crashes): not sent again"
            too_many = Reason.TOO_MANY_ATTEMPTS
            self.record(_outcome(row["id"], LedgerState.DEAD_LETTER, reason=too_many, detail=detail, undo_attempt=True))
            return None
        stop: SymphonicsError | None = None
        try:
            outcome = _send_one(row, attempts, self.client, self.settings, self.counts)
        except SymphonicsForbidden as forbidden:
            account = self.streak.forbidden(row["external_id"], forbidden)
            if account is None:
                self.held.append((row, attempts, forbidden))
                return None
            self.give_back([*(held for held, _, _ in self.held), row], account)
            raise account from forbidden
        except SymphonicsAuthError as refused:
            self.give_back([*(held for held, _, _ in self.held), row], refused)
            raise
        except SymphonicsError as refused:
            if not refused.nothing_sent:
                raise
            # Nothing left the process: the row goes back to ready, its attempt undone.
            stop = refused
            outcome = _outcome(row["id"], LedgerState.READY, undo_attempt=True)
        if _answered(outcome):
            self.set_aside_forbidden()
        self.record(outcome)
        return stop

    def set_aside_forbidden(self) -> None:
        """The streak of 403s ended short of the account's refusal: each of its rows goes to ``dead_letter``."""
        self.streak.answered()
        held, self.held = self.held, []
        for row, attempts, forbidden in held:
            self.record(_failure(row, attempts, forbidden, self.settings, self.counts))

    def give_back(self, rows: list[dict[str, Any]], refused: SymphonicsError) -> None:
        """The account is refused: the rows being sent go back to the state they were claimed from."""
        self.held = []
        log.error("the partner refuses the account (%s): %s row(s) given back, the run stops", refused, len(rows))
        with self.sync.transaction():
            for row in rows:
                self.sync.execute(
                    query("give_back"),
                    {
                        "id": row["id"],
                        "state": LedgerState(row["state"]).value,
                        "error_code": refused.code or str(refused.status or type(refused).__name__),
                        "error_message": refused.message,
                        "request_id": refused.request_id,
                        "http_status": refused.status,
                    },
                )

    def record(self, outcome: dict[str, Any]) -> None:
        """Commit a row's outcome; a row published now gives its completed -> published latency."""
        with self.sync.transaction():
            recorded = self.sync.execute(query("publish_outcome"), outcome).fetchone()
        if recorded is not None and recorded[0] is not None:
            self.sink.timing(metric("publish", "completed_to_published"), float(recorded[0]) * 1000)
        self.counts.by_outcome[outcome["state"]] += 1


def _report_backlog(
    sync: psycopg.Connection, counts: PublishCounts, sink: MetricsSink, stop: SymphonicsError | None
) -> None:
    """Count the rows still to work on, and say why the run stopped early and when the rest may go."""
    backlog = {str(state): int(count) for state, count in sync.execute(query("backlog")).fetchall()}
    sync.commit()
    counts.backlog = sum(backlog.values())
    sink.gauge(metric("publish", "backlog"), counts.backlog)
    if stop is None:
        return
    counts.stopped = stop.refusal
    counts.eta = _eta(counts.backlog, stop)
    log.warning(
        "publishing stopped (%s): %s; backlog %s rows %s, ETA %s",
        stop.refusal,
        stop,
        counts.backlog,
        backlog,
        counts.eta or "next run",
    )


def publish(
    sync_dsn: str,
    client: SymphonicsClient,
    *,
    run_id: str,
    settings: PublishSettings | None = None,
    metrics: MetricsSink | None = None,
    external_ids: Sequence[str] = (),
) -> PublishCounts:
    """Send every ready row (and resolve the ones a crash left in ``sending``) until done or told to stop.

    Given external ids, only those rows are claimed: the backlog is left as it is. A dry run does not come here
    (``dry_run.py``).

    :param sync_dsn: the ``sync`` database.
    :param client: the partner's client (its guard holds the kill switch and the run's budget).
    :param run_id: the Airflow run.
    :param settings: the pipeline's settings.
    :param metrics: where the backlog and each completed -> published latency go (default: the client's sink).
    :param external_ids: the run's ``external_ids``; empty: every row to send.
    """
    settings = settings or PublishSettings()
    sink = metrics if metrics is not None else client.metrics
    counts = PublishCounts()
    scope = claim_scope(external_ids)
    with psycopg.connect(sync_dsn) as sync:
        with claim_key_held(sync_dsn) as claim_key:
            run = _PublishRun(
                sync,
                claim_key,
                client,
                settings,
                counts,
                sink,
                run_id,
                scope,
                ForbiddenStreak(settings.account_forbidden_after),
            )
            stop = run.send_batches()
            run.set_aside_forbidden()  # a streak of 403s the run ended in, short of the account's refusal
        _report_backlog(sync, counts, sink, stop)
    log.info("publish: %s", counts.as_dict())
    return counts
