"""Step 2: the local rules over the pending rows, and the diff of the rows the partner already holds.

First, rows whose source changed while they were held (``sending``, ``conflict_unresolved``) and are settled
now go back to ``pending`` (``sql/publish/compare_again.sql``): no change is lost to a row that could not move.
No partner call here. Rows are taken in batches with ``FOR UPDATE SKIP LOCKED``, so two runs at once split
the work instead of doing it twice.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from include.symphonics.core.normalise import normalise_pdl, normalise_phone
from include.symphonics.core.states import HELD_STATES, LedgerState, Reason, sources_of
from include.symphonics.publish.payload import build_payload, decided_row, new_documents, unpatchable_changes
from include.symphonics.publish.rules import check_local_rules
from include.symphonics.publish.settings import PublishSettings
from include.symphonics.publish.sqlfiles import claim_scope, query

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decision:
    """What the step decided for one row.

    :param state: the new state.
    :param reason: its reason (None on the happy path).
    :param detail: a sentence for ops.
    :param payload: the payload to send (or that would be sent), when there is one.
    :param changed_fields: for changed_after_publish, what changed.
    """

    state: LedgerState
    reason: str | None = None
    detail: str | None = None
    payload: dict[str, Any] | None = None
    changed_fields: dict[str, Any] | None = None

    def as_update(self, row_id: int, run_id: str) -> dict[str, Any]:
        """The parameters of ``sql/publish/prevalidation_update.sql`` for a pending row."""
        changed = None if self.changed_fields is None else Jsonb(self.changed_fields)
        decided = decided_row(row_id, LedgerState.PENDING, self.state, self.reason, self.detail, self.payload, run_id)
        return {**decided, "changed_fields": changed}


def _current_payload(source: Mapping[str, Any]) -> dict[str, Any]:
    """The payload the app's data gives now, even when a local rule would now fail (for the diff)."""
    customer = source.get("customer") or {}
    installation = dict(source.get("installation") or {})
    for key in ("address", "postal_code", "city"):
        installation[key] = installation.get(key) or ""
    phone = normalise_phone(customer.get("phone")) or customer.get("phone") or ""
    return build_payload(
        {**source, "installation": installation}, phone_e164=phone, pdl=normalise_pdl(installation.get("pdl"))
    )


def decide_for_published(
    source: Mapping[str, Any], sent_payload: Mapping[str, Any], sent_documents: list[dict[str, Any]], *, patched: bool
) -> Decision:
    """The decision for a row the partner holds (its id known) whose source changed.

    A cancellation or an edit a PATCH cannot carry is changed_after_publish, with what changed; new
    documents make the row ready for a PATCH carrying only them; anything else leaves it as it was.

    :param source: the extracted record now.
    :param sent_payload: what the partner holds.
    :param sent_documents: the documents the partner holds.
    :param patched: whether documents were already added by PATCH (the row was ``updated``).
    """
    status = source.get("status")
    if status != "completed":
        reason = Reason.CANCELLED_AFTER_PUBLISH if status == "cancelled" else Reason.EDITED_AFTER_PUBLISH
        return Decision(
            LedgerState.CHANGED_AFTER_PUBLISH,
            reason.value,
            f"status changed to {status} after publication: the API cannot carry it",
            changed_fields={"status": {"sent": "completed", "now": status}},
        )
    current = _current_payload(source)
    changes = unpatchable_changes(current, sent_payload)
    if changes:
        return Decision(
            LedgerState.CHANGED_AFTER_PUBLISH,
            Reason.EDITED_AFTER_PUBLISH.value,
            f"changed after publication, which the API cannot carry: {', '.join(sorted(changes))}",
            changed_fields=changes,
        )
    added = new_documents(current["documents"], sent_documents)
    if added:
        payload = {**sent_payload, "documents": [*sent_documents, *added]}
        return Decision(LedgerState.READY, payload=payload)
    return Decision(LedgerState.UPDATED if patched else LedgerState.PUBLISHED)


def decide(row: Mapping[str, Any]) -> Decision:
    """The step's decision for one pending row.

    :param row: ``source``, ``sent_payload``, ``sent_documents``, ``symphonics_id``, ``patched_at``.
    """
    source = row["source"]
    if row["symphonics_id"] is not None and row["sent_payload"] is not None:
        return decide_for_published(
            source, row["sent_payload"], list(row["sent_documents"] or []), patched=row["patched_at"] is not None
        )
    verdict = check_local_rules(source)
    return Decision(verdict.state, verdict.reason, verdict.detail, verdict.payload)


def compare_again(sync: psycopg.Connection, scope: list[str] | None = None) -> list[str]:
    """Send the rows whose source changed while they were held, and are settled now, back to ``pending``.

    :param sync: a connection to the ``sync`` database (committed here).
    :param scope: the external ids a run was given (None: every row).
    :return: their external ids.
    """
    from_states = [state for state in sources_of(LedgerState.PENDING) if LedgerState(state) not in HELD_STATES]
    with sync.transaction():
        rows = sync.execute(query("compare_again"), {"from_states": from_states, "external_ids": scope}).fetchall()
    if rows:
        log.info("%s row(s) changed while held: compared again", len(rows))
    return [str(row[0]) for row in rows]


def prevalidate(
    sync_dsn: str,
    *,
    run_id: str,
    settings: PublishSettings | None = None,
    external_ids: Sequence[str] = (),
) -> dict[str, int]:
    """Apply the local rules to every pending row not checked yet (or, given external ids, to those only).

    :param sync_dsn: the ``sync`` database.
    :param run_id: the Airflow run.
    :param settings: the pipeline's settings.
    :param external_ids: a run given external ids works on those rows only; empty: every pending row.
    :return: rows per resulting state (``prevalidated`` = passed, on to the partner validation).
    """
    with psycopg.connect(sync_dsn) as sync:
        return prevalidate_on(sync, run_id=run_id, settings=settings, external_ids=external_ids)


def prevalidate_on(
    sync: psycopg.Connection,
    *,
    run_id: str,
    settings: PublishSettings | None = None,
    external_ids: Sequence[str] = (),
) -> dict[str, int]:
    """:func:`prevalidate` on an open connection (each batch a transaction, or a savepoint inside the caller's).

    :param sync: the ``sync`` database.
    :param run_id: as for :func:`prevalidate`.
    :param settings: as for :func:`prevalidate`.
    :param external_ids: as for :func:`prevalidate`.
    """
    settings = settings or PublishSettings()
    counts: Counter[str] = Counter()
    after_id = 0
    scope = claim_scope(external_ids)
    compare_again(sync, scope)
    while True:
        with sync.transaction(), sync.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute(
                query("claim_for_prevalidation"),
                {"after_id": after_id, "batch_size": settings.batch_size, "external_ids": scope},
            )
            rows = cur.fetchall()
            if not rows:
                break
            updates = []
            for row in rows:
                decision = decide(row)
                counts[decision.state.value] += 1
                updates.append(decision.as_update(row["id"], run_id))
            cur.executemany(query("prevalidation_update"), updates)
            after_id = rows[-1]["id"]
    log.info("local rules: %s", dict(counts))
    return dict(counts)
