"""A dry run: the whole pipeline on the ledger in one transaction, rolled back; only its plan is kept.

A dry run must leave no trace in the ledger: no state moved (a published row re-checked would go
``published → pending → published``), no ``symphonics.ledger_history`` row, no refusal in ``analytics.rejections``,
no high-water mark moved. So it runs extract, the local rules, the partner's validation and the plan of what would be
sent on one ``sync`` connection, inside one transaction (each step's batches are savepoints in it), reads what the run
would send, skip and refuse, then rolls the transaction back and stores that plan alone
(``symphonics.dry_run_results``, for the dashboard). The partner's answers it paid for are kept: the validation
caches are written through a second, autocommit connection, and the call log through the client's own.

The rows it touches stay locked until it ends: a real run (one at a time per DAG) waits for it, the claims of
another process skip them (``SKIP LOCKED``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from include.symphonics.client import SymphonicsClient
from include.symphonics.publish import extract as extract_step
from include.symphonics.publish import partner_validation, prevalidate
from include.symphonics.publish.payload import new_documents
from include.symphonics.publish.publisher import PublishCounts
from include.symphonics.publish.settings import PublishSettings
from include.symphonics.publish.sqlfiles import claim_scope, query

log = logging.getLogger(__name__)


@dataclass
class DryRunCounts:
    """Each step's counts, as the step-by-step tasks return them (the run's summary reads them alike)."""

    extract: dict[str, Any]
    local: dict[str, int]
    partner: dict[str, Any]
    publish: PublishCounts


def plan_sends(sync: psycopg.Connection, counts: PublishCounts, external_ids: Sequence[str] = ()) -> None:
    """What a real run would send now, into ``counts`` (``would_create``, ``would_patch``, ``planned``).

    :param sync: the ``sync`` database (nothing is claimed or changed).
    :param counts: filled in.
    :param external_ids: a run given external ids plans those only.
    """
    with sync.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(query("ready_for_dry_run"), {"external_ids": claim_scope(external_ids)}):
            if row["symphonics_id"] is None:
                counts.would_create += 1
                # Which fields, not their values: the payload holds the customer's name, e-mail, phone and PDL.
                log.info("dry run: would create %s with fields %s", row["external_id"], sorted(row["payload"]))
                plan: dict[str, Any] = {"action": "create", "fields": sorted(row["payload"]), "new_documents": None}
            else:
                added = new_documents(row["payload"].get("documents") or [], row["sent_documents"] or [])
                counts.would_patch += 1
                log.info("dry run: would PATCH %s with %s new document(s)", row["external_id"], len(added))
                plan = {"action": "patch", "fields": None, "new_documents": len(added)}
            counts.planned.append({"external_id": row["external_id"], "state": row["state"], **plan})
    log.info("dry run: %s create(s) and %s PATCH(es) would be sent", counts.would_create, counts.would_patch)


def dry_run(
    app_dsn: str,
    sync_dsn: str,
    client: SymphonicsClient,
    request: extract_step.ExtractRequest,
    *,
    run_id: str,
    settings: PublishSettings | None = None,
) -> DryRunCounts:
    """Plan a run without changing the ledger, and store the plan.

    :param app_dsn: the app's database (only read).
    :param sync_dsn: the ``sync`` database.
    :param client: the partner's client (the validation's requests; nothing is created or PATCHed).
    :param request: the extraction the run asks for (its ``external_ids`` scope every step).
    :param run_id: the Airflow run, the key of its stored plan.
    :param settings: the pipeline's settings.
    """
    settings = settings or PublishSettings()
    ids = request.external_ids
    published = PublishCounts()
    with (
        psycopg.connect(app_dsn) as app,
        psycopg.connect(sync_dsn) as sync,
        psycopg.connect(sync_dsn, autocommit=True) as cache_conn,
    ):
        with sync.transaction(force_rollback=True):
            extracted = extract_step.extract_on(
                app, sync, request, run_id=run_id, settings=settings, inside_transaction=True
            )
            local = prevalidate.prevalidate_on(sync, run_id=run_id, settings=settings, external_ids=ids)
            partner = partner_validation.validate_on(
                sync, cache_conn, client, run_id=run_id, settings=settings, external_ids=ids
            )
            plan_sends(sync, published, ids)
            settled = sync.execute(query("dry_run_settled"), {"run_id": run_id}).fetchall()
        # Rolled back: the ledger, its history and the mark are as they were. The plan alone is stored.
        with sync.transaction():
            sync.execute(
                query("dry_run_record"),
                {
                    "run_id": run_id,
                    "planned": Jsonb(published.planned),
                    "settled": Jsonb([{"external_id": e, "to_state": s, "reason": r} for e, s, r in settled]),
                },
            )
    published.stopped = partner.stopped
    return DryRunCounts(extract=extracted.as_dict(), local=local, partner=partner.as_dict(), publish=published)
