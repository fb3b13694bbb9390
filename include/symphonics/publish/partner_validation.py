"""Step 3: the partner's validation, in batches: each distinct PDL, address and installer asked once.

Answers are cached in the ``sync`` database with a TTL (``symphonics.pdl_validations``, ``pdl_lookups``,
``installer_validations``), so a repeat customer's PDL or an installer's hundredth job costs nothing. The
PDL is asked first and the installer only for rows whose PDL passed: a row has one primary reason, in the
order of :data:`include.symphonics_demo.expectations.PARTNER_RULE_PRECEDENCE`.

A failure the client reports with ``nothing_sent`` (kill switch, budget, quota, open breaker) stops the step:
the rows still unanswered wait for the next run. Other failures are answers of their own: ``retryable`` ones
leave the row waiting, the others reject it. Refused credentials fail the task.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from include.symphonics.client import PUBLISH, SymphonicsAuthError, SymphonicsClient, SymphonicsError
from include.symphonics.publish.payload import fingerprint, lookup_address, lookup_key
from include.symphonics.publish.settings import PublishSettings
from include.symphonics.publish.sqlfiles import query
from include.symphonics.publish.states import LedgerState, Reason
from include.symphonics_demo.expectations import Reason as ContractReason

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


def _mask(value: str) -> str:
    # Logs never carry a full PDL or e-mail.
    return value[:3] + "…" + value[-2:] if len(value) > 6 else "…"


def _ask_each(
    keys: Iterable[K], cached: dict[K, Any], ask: Callable[[K], Any], counts: ValidationCounts
) -> tuple[dict[K, Any], SymphonicsError | None]:
    """Answer each distinct key from the cache, else by asking the partner; stop at the first call not sent."""
    answers: dict[K, Any] = {}
    for key in dict.fromkeys(keys):
        if key in cached:
            answers[key] = cached[key]
            counts.cache_hits += 1
            continue
        try:
            answers[key] = ask(key)
        except SymphonicsAuthError:
            # Our credentials, not the row, were refused: no row is rejected, the task fails loudly.
            raise
        except SymphonicsError as error:
            if error.nothing_sent:
                return answers, error
            answers[key] = Failure(error)
    return answers, None


def _decide(
    row: dict[str, Any],
    pdl_answer: PdlAnswer | LookupAnswer | Failure | None,
    user_answer: UserAnswer | Failure | None,
    settings: PublishSettings,
) -> tuple[LedgerState, str | None, str | None, dict[str, Any] | None, SymphonicsError | None] | None:
    """(state, reason, detail, payload, error) for a row, or None while an answer is missing."""
    if pdl_answer is None:
        return None
    if isinstance(pdl_answer, Failure):
        if pdl_answer.retryable:
            return None
        return (
            LedgerState.REJECTED_VALIDATION,
            Reason.PARTNER_REFUSED.value,
            str(pdl_answer.error),
            None,
            pdl_answer.error,
        )
    payload = dict(row["payload"])
    installation = dict(payload["installation"])
    if isinstance(pdl_answer, PdlAnswer):
        if not pdl_answer.valid:
            detail = f"the partner does not know the PDL: {pdl_answer.message or 'invalid'}"
            return (LedgerState.REJECTED_VALIDATION, ContractReason.PDL_INVALID.value, detail, None, None)
    else:
        if not pdl_answer.found or pdl_answer.pdl is None:
            return (
                LedgerState.REJECTED_VALIDATION,
                Reason.PDL_LOOKUP_NOT_FOUND.value,
                "no PDL at this address",
                None,
                None,
            )
        confidence = pdl_answer.confidence or 0.0
        if confidence < settings.lookup_confidence:
            detail = f"lookup confidence {confidence:.2f} below {settings.lookup_confidence:.2f}"
            return (LedgerState.REJECTED_VALIDATION, ContractReason.PDL_LOOKUP_LOW_CONFIDENCE.value, detail, None, None)
        installation["pdl"] = pdl_answer.pdl
    if user_answer is None:
        return None
    if isinstance(user_answer, Failure):
        if user_answer.retryable:
            return None
        return (
            LedgerState.REJECTED_VALIDATION,
            Reason.PARTNER_REFUSED.value,
            str(user_answer.error),
            None,
            user_answer.error,
        )
    if not user_answer.exists:
        return (
            LedgerState.REJECTED_VALIDATION,
            ContractReason.INSTALLER_UNKNOWN.value,
            "the installer has no Symphonics account",
            None,
            None,
        )
    if user_answer.status != "active" or not user_answer.user_id:
        detail = f"the installer's Symphonics account is {user_answer.status}"
        return (LedgerState.REJECTED_VALIDATION, ContractReason.INSTALLER_INACTIVE.value, detail, None, None)
    payload["installation"] = installation
    payload["installer"] = {**payload["installer"], "id": user_answer.user_id}
    return (LedgerState.READY, None, None, payload, None)


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

    def _ttl(self, ttl: timedelta) -> timedelta:
        return ttl

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
    sync_dsn: str, client: SymphonicsClient, *, run_id: str, settings: PublishSettings | None = None
) -> ValidationCounts:
    """Validate every row that passed the local rules, batch by batch, until done or told to stop.

    :param sync_dsn: the ``sync`` database.
    :param client: the partner's client (its guard holds the kill switch and the run's budget).
    :param run_id: the Airflow run.
    :param settings: the pipeline's settings.
    """
    settings = settings or PublishSettings()
    counts = ValidationCounts(reasons=Counter())
    after_id = 0
    with psycopg.connect(sync_dsn) as sync, psycopg.connect(sync_dsn, autocommit=True) as cache_conn:
        caches = _Caches(cache_conn, settings)
        while counts.stopped is None:
            with sync.transaction(), sync.cursor(row_factory=dict_row) as cur:
                cur.execute(
                    query("claim_for_partner_validation"), {"after_id": after_id, "batch_size": settings.batch_size}
                )
                rows = cur.fetchall()
                if not rows:
                    break
                after_id = rows[-1]["id"]
                stop = _validate_batch(cur, rows, caches, client, settings, counts, run_id)
                if stop is not None:
                    counts.stopped = stop.refusal
                    log.warning("partner validation stopped: %s", stop)
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


def _validate_batch(
    cur: psycopg.Cursor[dict[str, Any]],
    rows: list[dict[str, Any]],
    caches: _Caches,
    client: SymphonicsClient,
    settings: PublishSettings,
    counts: ValidationCounts,
    run_id: str,
) -> SymphonicsError | None:
    pdl_of: dict[int, str] = {}
    lookup_of: dict[int, tuple[str, dict[str, str], str]] = {}
    for row in rows:
        installation = row["payload"]["installation"]
        if installation.get("pdl"):
            pdl_of[row["id"]] = installation["pdl"]
        else:
            address = lookup_address(installation)
            name = row["source"]["customer"]["last_name"]
            lookup_of[row["id"]] = (lookup_key(address, name), address, name)

    pdl_answers, stop = _ask_each(
        pdl_of.values(), caches.pdls(sorted(set(pdl_of.values()))), lambda pdl: caches.keep_pdl(pdl, client), counts
    )
    lookup_inputs = {key: (address, name) for key, address, name in lookup_of.values()}
    lookup_answers: dict[str, Any] = {}
    if stop is None:
        lookup_answers, stop = _ask_each(
            lookup_inputs,
            caches.lookups(sorted(lookup_inputs)),
            lambda key: caches.keep_lookup(key, *lookup_inputs[key], client),
            counts,
        )

    def pdl_answer_of(row: dict[str, Any]) -> PdlAnswer | LookupAnswer | Failure | None:
        if row["id"] in pdl_of:
            return pdl_answers.get(pdl_of[row["id"]])
        return lookup_answers.get(lookup_of[row["id"]][0])

    def passes_pdl(answer: Any) -> bool:
        if isinstance(answer, PdlAnswer):
            return answer.valid
        if isinstance(answer, LookupAnswer):
            return answer.found and (answer.confidence or 0.0) >= settings.lookup_confidence
        return False

    email_of = {
        row["id"]: row["source"]["installer"]["email"].strip().lower() for row in rows if passes_pdl(pdl_answer_of(row))
    }
    user_answers: dict[str, Any] = {}
    if stop is None:
        user_answers, stop = _ask_each(
            email_of.values(),
            caches.users(sorted(set(email_of.values()))),
            lambda email: caches.keep_user(email, client),
            counts,
        )

    updates = []
    for row in rows:
        user = user_answers.get(email_of[row["id"]]) if row["id"] in email_of else None
        decision = _decide(row, pdl_answer_of(row), user, settings)
        if decision is None:
            counts.waiting += 1
            continue
        state, reason, detail, payload, error = decision
        if state is LedgerState.READY:
            counts.ready += 1
        else:
            counts.rejected += 1
            assert counts.reasons is not None
            counts.reasons[reason or "?"] += 1
            log.info("%s rejected by the partner's validation: %s", row["external_id"], reason)
        updates.append(
            {
                "id": row["id"],
                "state": state.value,
                "reason": reason,
                "detail": detail,
                "payload": None if payload is None else Jsonb(payload),
                "payload_fingerprint": None if payload is None else fingerprint(payload),
                "error_code": None if error is None else (error.code or str(error.status)),
                "error_message": None if error is None else error.message,
                "request_id": None if error is None else error.request_id,
                "run_id": run_id,
            }
        )
    if updates:
        cur.executemany(query("validation_update"), updates)
    return stop
