"""Step 3: the partner's validation, in batches: each distinct PDL, address and installer asked once.

Answers are cached in the ``sync`` database with a TTL (``symphonics.pdl_validations``, ``pdl_lookups``,
``installer_validations``), so a repeat customer's PDL or an installer's hundredth job costs nothing. The
PDL is asked first and the installer only for rows whose PDL passed: a row has one primary reason, in the
order of :class:`~include.symphonics.core.states.Reason` (PDL, lookup, installer).

A failure the client reports with ``nothing_sent`` (kill switch, budget, quota, open breaker) stops the step:
the rows still unanswered wait for the next run. Other failures are answers of their own: ``retryable`` ones
leave the row waiting, a 403 on the row's PDL or installer sets it aside (``dead_letter``,
``partner_forbidden``), the others reject it. The account refused (the token refused, a 401 with a fresh token,
or ``account_forbidden_after`` 403s in a row on distinct PDLs or installers) stops the step: the batch's
decisions are rolled back and the rows set aside by the open streak were held back, so they all stay
``prevalidated``; the error fails the task (which alerts).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from include.symphonics.client import (
    PUBLISH,
    SymphonicsAuthError,
    SymphonicsClient,
    SymphonicsError,
    SymphonicsForbidden,
)
from include.symphonics.core.normalise import lookup_address, lookup_key
from include.symphonics.core.states import LedgerState, Reason
from include.symphonics.publish.forbidden import ForbiddenStreak
from include.symphonics.publish.payload import decided_row
from include.symphonics.publish.settings import PublishSettings
from include.symphonics.publish.sqlfiles import claim_scope, query

log = logging.getLogger(__name__)
K = TypeVar("K")


@dataclass(frozen=True)
class PdlAnswer:
    """A PDL validation, fresh or from the cache."""

    valid: bool
    message: str | None = None


@dataclass(frozen=True)
class LookupAnswer:
    """A lookup by address, fresh or from the cache."""

    found: bool
    pdl: str | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class UserAnswer:
    """An installer's validation, fresh or from the cache."""

    exists: bool
    user_id: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class Failure:
    """The partner refused or failed one question: the rows asking it wait or are rejected."""

    error: SymphonicsError

    @property
    def retryable(self) -> bool:
        """Whether asking again later may help (5xx, 429, no reply), as opposed to a refusal: the client says."""
        return self.error.retryable


@dataclass
class ValidationCounts:
    """What the step did."""

    ready: int = 0
    rejected: int = 0
    waiting: int = 0
    cache_hits: int = 0
    stopped: str | None = None
    reasons: Counter[str] | None = None

    def as_dict(self) -> dict[str, Any]:
        """For XCom and the run summary."""
        return {
            "ready": self.ready,
            "rejected": self.rejected,
            "waiting": self.waiting,
            "cache_hits": self.cache_hits,
            "stopped": self.stopped,
            "reasons": dict(self.reasons or {}),
        }


def _ask_each(
    keys: Iterable[K],
    cached: dict[K, Any],
    ask: Callable[[K], Any],
    counts: ValidationCounts,
    streak: ForbiddenStreak,
    kind: str,
) -> tuple[dict[K, Any], SymphonicsError | None]:
    """Answer each distinct key from the cache, else by asking the partner; stop at the first call not sent.

    :raises SymphonicsAuthError: the account is refused (a refused token, or the streak of 403s reached its limit).
    """
    answers: dict[K, Any] = {}
    for key in dict.fromkeys(keys):
        if key in cached:
            answers[key] = cached[key]
            counts.cache_hits += 1
            continue
        try:
            answers[key] = ask(key)
            streak.answered()
        except SymphonicsAuthError:
            # Our credentials, not the row, were refused: no row is rejected, the task fails loudly.
            raise
        except SymphonicsForbidden as forbidden:
            account = streak.forbidden(f"{kind}:{key}", forbidden)
            if account is not None:
                raise account from forbidden
            answers[key] = Failure(forbidden)
        except SymphonicsError as error:
            if error.nothing_sent:
                return answers, error
            if not error.retryable:
                streak.answered()  # a refusal of the request itself (400, 404, 422): the account has access
            answers[key] = Failure(error)
    return answers, None


@dataclass(frozen=True)
class PartnerDecision:
    """The partner validation's decision on one row: ``ready`` with its completed payload, or rejected.

    :param state: ``ready``, ``rejected_validation`` or ``dead_letter`` (a 403 on the row's PDL or installer).
    :param reason: the primary reason of a rejection.
    :param detail: a sentence for ops.
    :param payload: the payload completed with the PDL found and the installer's id (``ready`` only).
    :param error: the partner's refusal, when a call was refused.
    """

    state: LedgerState
    reason: str | None = None
    detail: str | None = None
    payload: dict[str, Any] | None = field(default=None, repr=False)
    error: SymphonicsError | None = None

    def as_update(self, row_id: int, run_id: str) -> dict[str, Any]:
        """The parameters of ``sql/publish/validation_update.sql``."""
        error = self.error
        return {
            **decided_row(row_id, LedgerState.PREVALIDATED, self.state, self.reason, self.detail, self.payload, run_id),
            "error_code": None if error is None else (error.code or str(error.status)),
            "error_message": None if error is None else error.message,
            "request_id": None if error is None else error.request_id,
        }


def _rejected(reason: Reason, detail: str, error: SymphonicsError | None = None) -> PartnerDecision:
    return PartnerDecision(LedgerState.REJECTED_VALIDATION, reason.value, detail, error=error)


def _refusal(failure: Failure) -> PartnerDecision | None:
    """A refused call rejects the row (a 403 sets it aside); a retryable failure (None) leaves it waiting."""
    if isinstance(failure.error, SymphonicsForbidden):
        detail = f"the partner refuses the row's PDL or installer to the account (403): {failure.error}"
        return PartnerDecision(LedgerState.DEAD_LETTER, Reason.PARTNER_FORBIDDEN.value, detail, error=failure.error)
    return None if failure.retryable else _rejected(Reason.PARTNER_REFUSED, str(failure.error), failure.error)


def _pdl_refusal(answer: PdlAnswer | LookupAnswer, settings: PublishSettings) -> PartnerDecision | None:
    """The rejection a PDL answer (validation or lookup by address) gives, or None when it passes."""
    if isinstance(answer, PdlAnswer):
        if answer.valid:
            return None
        return _rejected(Reason.PDL_INVALID, f"the partner does not know the PDL: {answer.message or 'invalid'}")
    if not answer.found or answer.pdl is None:
        return _rejected(Reason.PDL_LOOKUP_NOT_FOUND, "no PDL at this address")
    confidence = answer.confidence or 0.0
    if confidence < settings.lookup_confidence:
        detail = f"lookup confidence {confidence:.2f} below {settings.lookup_confidence:.2f}"
        return _rejected(Reason.PDL_LOOKUP_LOW_CONFIDENCE, detail)
    return None


def _installer_refusal(answer: UserAnswer) -> PartnerDecision | None:
    """The rejection an installer's validation gives, or None when the account is active."""
    if not answer.exists:
        return _rejected(Reason.INSTALLER_UNKNOWN, "the installer has no Symphonics account")
    if answer.status != "active" or not answer.user_id:
        return _rejected(Reason.INSTALLER_INACTIVE, f"the installer's Symphonics account is {answer.status}")
    return None


def _completed_payload(row: dict[str, Any], pdl_answer: PdlAnswer | LookupAnswer, user: UserAnswer) -> dict[str, Any]:
    """The row's payload with the PDL a lookup found and the installer's Symphonics id."""
    payload = dict(row["payload"])
    if isinstance(pdl_answer, LookupAnswer):
        payload["installation"] = {**payload["installation"], "pdl": pdl_answer.pdl}
    payload["installer"] = {**payload["installer"], "id": user.user_id}
    return payload


def _decide(
    row: dict[str, Any],
    pdl_answer: PdlAnswer | LookupAnswer | Failure | None,
    user_answer: UserAnswer | Failure | None,
    settings: PublishSettings,
) -> PartnerDecision | None:
    """The decision on a row, the PDL first, then the installer; None while an answer is missing."""
    if pdl_answer is None:
        return None
    if isinstance(pdl_answer, Failure):
        return _refusal(pdl_answer)
    refused = _pdl_refusal(pdl_answer, settings)
    if refused is not None:
        return refused
    if user_answer is None:
        return None
    if isinstance(user_answer, Failure):
        return _refusal(user_answer)
    return _installer_refusal(user_answer) or PartnerDecision(
        LedgerState.READY, payload=_completed_payload(row, pdl_answer, user_answer)
    )


class _Caches:
    """Reads and writes of the three validation caches (writes commit at once: a paid answer is kept)."""

    def __init__(self, conn: psycopg.Connection, settings: PublishSettings) -> None:
        self.conn = conn
        self.settings = settings

    def pdls(self, pdls: list[str]) -> dict[str, PdlAnswer]:
        rows = self.conn.execute(query("cache_pdl_read"), {"pdls": pdls}).fetchall()
        return {pdl: PdlAnswer(valid, message) for pdl, valid, _code, message in rows}

    def lookups(self, keys: list[str]) -> dict[str, LookupAnswer]:
        rows = self.conn.execute(query("cache_lookup_read"), {"keys": keys}).fetchall()
        return {key: LookupAnswer(found, pdl, confidence) for key, found, pdl, confidence in rows}

    def users(self, emails: list[str]) -> dict[str, UserAnswer]:
        rows = self.conn.execute(query("cache_user_read"), {"emails": emails}).fetchall()
        return {email: UserAnswer(exists, user_id, status) for email, exists, user_id, status in rows}

    def keep_pdl(self, pdl: str, client: SymphonicsClient) -> PdlAnswer:
        result = client.validate_pdl(pdl, priority=PUBLISH)
        address = None if result.address is None else Jsonb(result.address.__dict__)
        self.conn.execute(
            query("cache_pdl_write"),
            {
                "pdl": pdl,
                "valid": result.valid,
                "address": address,
                "meter_type": result.meter_type,
                "error_code": result.error,
                "message": result.message,
                "ttl": self.settings.pdl_ttl,
            },
        )
        return PdlAnswer(result.valid, result.message)

    def keep_lookup(
        self, key: str, address: dict[str, str], customer_name: str, client: SymphonicsClient
    ) -> LookupAnswer:
        result = client.lookup_pdl(address, customer_name, priority=PUBLISH)
        self.conn.execute(
            query("cache_lookup_write"),
            {
                "key": key,
                "address": Jsonb(address),
                "customer_name": customer_name,
                "found": result.found,
                "pdl": result.pdl,
                "confidence": result.confidence,
                "meter_type": result.meter_type,
                "ttl": self.settings.lookup_ttl,
            },
        )
        return LookupAnswer(result.found, result.pdl, result.confidence)

    def keep_user(self, email: str, client: SymphonicsClient) -> UserAnswer:
        result = client.validate_user(email, priority=PUBLISH)
        self.conn.execute(
            query("cache_user_write"),
            {
                "email": email,
                "exists": result.exists,
                "user_id": result.user_id,
                "status": result.status,
                "ttl": self.settings.user_ttl,
            },
        )
        return UserAnswer(result.exists, result.user_id, result.status)


def validate_with_partner(
    sync_dsn: str,
    client: SymphonicsClient,
    *,
    run_id: str,
    settings: PublishSettings | None = None,
    external_ids: Sequence[str] = (),
) -> ValidationCounts:
    """Validate every row that passed the local rules, batch by batch, until done or told to stop.

    :param sync_dsn: the ``sync`` database.
    :param client: the partner's client (its guard holds the kill switch and the run's budget).
    :param run_id: the Airflow run.
    :param settings: the pipeline's settings.
    :param external_ids: a run given external ids validates those rows only; empty: every row waiting.
    """
    with psycopg.connect(sync_dsn) as sync, psycopg.connect(sync_dsn, autocommit=True) as cache_conn:
        return validate_on(sync, cache_conn, client, run_id=run_id, settings=settings, external_ids=external_ids)


def validate_on(
    sync: psycopg.Connection,
    cache_conn: psycopg.Connection,
    client: SymphonicsClient,
    *,
    run_id: str,
    settings: PublishSettings | None = None,
    external_ids: Sequence[str] = (),
) -> ValidationCounts:
    """:func:`validate_with_partner` on open connections (each batch a transaction, or a savepoint inside the
    caller's); the caches are written through ``cache_conn`` (autocommit: a paid answer is kept, dry run or not).

    :param sync: the ``sync`` database, for the ledger.
    :param cache_conn: the ``sync`` database in autocommit, for the caches.
    :param client: as for :func:`validate_with_partner`.
    :param run_id: as for :func:`validate_with_partner`.
    :param settings: as for :func:`validate_with_partner`.
    :param external_ids: as for :func:`validate_with_partner`.
    """
    settings = settings or PublishSettings()
    scope = claim_scope(external_ids)
    counts = ValidationCounts(reasons=Counter())
    after_id = 0
    streak = ForbiddenStreak(settings.account_forbidden_after)
    run = _PartnerRun(_Caches(cache_conn, settings), client, settings, counts, run_id, streak)
    while counts.stopped is None:
        with sync.transaction(), sync.cursor(row_factory=dict_row) as cur:
            cur.execute(
                query("claim_for_partner_validation"),
                {"after_id": after_id, "batch_size": settings.batch_size, "external_ids": scope},
            )
            rows = cur.fetchall()
            if not rows:
                break
            after_id = rows[-1]["id"]
            stop = run.validate_batch(cur, rows)
            if stop is not None:
                counts.stopped = stop.refusal
                log.warning("partner validation stopped: %s", stop)
    run.record_held(sync)
    if counts.stopped is not None:
        counts.waiting = sync.execute(query("waiting_for_partner")).fetchone()[0]  # type: ignore[index]
    log.info(
        "partner validation: %s ready, %s rejected %s, %s waiting, %s cache hits, %s requests",
        counts.ready,
        counts.rejected,
        dict(counts.reasons or {}),
        counts.waiting,
        counts.cache_hits,
        client.guard.admitted,
    )
    return counts


@dataclass
class _BatchQuestions:
    """What one batch asks the partner: each row's PDL (or lookup key), then its installer's e-mail."""

    pdl_of: dict[int, str] = field(default_factory=dict)
    lookup_of: dict[int, str] = field(default_factory=dict)
    lookup_inputs: dict[str, tuple[dict[str, str], str]] = field(default_factory=dict)
    email_of: dict[int, str] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: list[dict[str, Any]]) -> _BatchQuestions:
        """Sort the rows into those with a PDL to validate and those whose PDL a lookup by address finds."""
        questions = cls()
        for row in rows:
            installation = row["payload"]["installation"]
            if installation.get("pdl"):
                questions.pdl_of[row["id"]] = installation["pdl"]
            else:
                address = lookup_address(installation)
                name = row["source"]["customer"]["last_name"]
                key = lookup_key(address, name)
                questions.lookup_of[row["id"]] = key
                questions.lookup_inputs[key] = (address, name)
        return questions


@dataclass
class _BatchAnswers:
    """The partner's answers to one batch's questions, by PDL, lookup key and e-mail."""

    pdls: dict[str, Any] = field(default_factory=dict)
    lookups: dict[str, Any] = field(default_factory=dict)
    users: dict[str, Any] = field(default_factory=dict)

    def pdl_answer(self, row_id: int, questions: _BatchQuestions) -> PdlAnswer | LookupAnswer | Failure | None:
        if row_id in questions.pdl_of:
            return self.pdls.get(questions.pdl_of[row_id])
        return self.lookups.get(questions.lookup_of[row_id])

    def user_answer(self, row_id: int, questions: _BatchQuestions) -> UserAnswer | Failure | None:
        email = questions.email_of.get(row_id)
        return None if email is None else self.users.get(email)


@dataclass
class _PartnerRun:
    """One run of the step: its caches, client, settings and counts, shared by each batch's steps."""

    caches: _Caches
    client: SymphonicsClient
    settings: PublishSettings
    counts: ValidationCounts
    run_id: str
    streak: ForbiddenStreak = field(default_factory=lambda: ForbiddenStreak(3))
    #: Decisions ``partner_forbidden`` taken while the streak of 403s is open (see :meth:`record_decisions`).
    held: list[dict[str, Any]] = field(default_factory=list)

    def validate_batch(self, cur: psycopg.Cursor[dict[str, Any]], rows: list[dict[str, Any]]) -> SymphonicsError | None:
        """Ask the batch's PDLs, then its installers, then record every decision; the call not sent, if any."""
        questions = _BatchQuestions.of(rows)
        answers, stop = self.ask_pdls(questions)
        if stop is None:
            stop = self.ask_installers(rows, questions, answers)
        self.record_decisions(cur, rows, questions, answers)
        return stop

    def ask_pdls(self, questions: _BatchQuestions) -> tuple[_BatchAnswers, SymphonicsError | None]:
        """Validate each distinct PDL, then look up each distinct address (from the cache first)."""
        caches, client, counts = self.caches, self.client, self.counts
        pdls = questions.pdl_of.values()
        answers = _BatchAnswers()
        answers.pdls, stop = _ask_each(
            pdls, caches.pdls(sorted(set(pdls))), lambda pdl: caches.keep_pdl(pdl, client), counts, self.streak, "pdl"
        )
        if stop is None:
            inputs = questions.lookup_inputs
            answers.lookups, stop = _ask_each(
                inputs,
                caches.lookups(sorted(inputs)),
                lambda key: caches.keep_lookup(key, *inputs[key], client),
                counts,
                self.streak,
                "lookup",
            )
        return answers, stop

    def ask_installers(
        self, rows: list[dict[str, Any]], questions: _BatchQuestions, answers: _BatchAnswers
    ) -> SymphonicsError | None:
        """Validate the installer of each row whose PDL passed, each distinct e-mail once."""
        for row in rows:
            pdl_answer = answers.pdl_answer(row["id"], questions)
            if isinstance(pdl_answer, PdlAnswer | LookupAnswer) and _pdl_refusal(pdl_answer, self.settings) is None:
                questions.email_of[row["id"]] = row["source"]["installer"]["email"].strip().lower()
        emails = questions.email_of.values()
        caches, client = self.caches, self.client
        answers.users, stop = _ask_each(
            emails,
            caches.users(sorted(set(emails))),
            lambda email: caches.keep_user(email, client),
            self.counts,
            self.streak,
            "user",
        )
        return stop

    def record_decisions(
        self,
        cur: psycopg.Cursor[dict[str, Any]],
        rows: list[dict[str, Any]],
        questions: _BatchQuestions,
        answers: _BatchAnswers,
    ) -> None:
        """Decide each row that has its answers and record it; the others wait for the next run."""
        counts, updates = self.counts, []
        for row in rows:
            pdl_answer, user_answer = (
                answers.pdl_answer(row["id"], questions),
                answers.user_answer(row["id"], questions),
            )
            decision = _decide(row, pdl_answer, user_answer, self.settings)
            if decision is None:
                counts.waiting += 1
                continue
            if decision.state is LedgerState.READY:
                counts.ready += 1
            else:
                counts.rejected += 1
                assert counts.reasons is not None
                counts.reasons[decision.reason or "?"] += 1
                log.info("%s rejected by the partner's validation: %s", row["external_id"], decision.reason)
            update = decision.as_update(row["id"], self.run_id)
            if decision.reason == Reason.PARTNER_FORBIDDEN and self.streak.resources:
                # The streak of 403s is still open: the account may yet prove refused, which keeps every row
                # where it is. Recorded once the streak ends short of it (or at the end of the step).
                self.held.append(update)
            else:
                updates.append(update)
        if not self.streak.resources:
            updates.extend(self.held)
            self.held = []
        if updates:
            cur.executemany(query("validation_update"), updates)

    def record_held(self, sync: psycopg.Connection) -> None:
        """The step ended with a streak of 403s short of the account's refusal: record its rows' decisions."""
        held, self.held = self.held, []
        if held:
            with sync.transaction(), sync.cursor() as cur:
                cur.executemany(query("validation_update"), held)
