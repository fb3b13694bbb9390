"""Step 1: read the changed interventions from the app's database into the ledger, set-based.

The app's database is read in keyset pages of (updated_at, id), each page built into source records by one
statement (``sql/publish/build_sources.sql``), then COPied into a temporary table of the ``sync`` database and
upserted into the ledger by one ``INSERT … ON CONFLICT``. The high-water mark moves with each page, in the
page's transaction, so a crash loses nothing and redoes at most a page. With each inserted or changed row goes
the keyed hash of its customer's id and e-mail (``symphonics.subject_keys``): an erasure's index.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import queue
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg

from include.symphonics.core.subject_keys import SubjectKeys, load_subject_keys, subject_identifiers
from include.symphonics.publish.settings import PIPELINE, PublishSettings
from include.symphonics.publish.sqlfiles import extraction_query, query

log = logging.getLogger(__name__)

_MINUS_INFINITY = "-infinity"
_INFINITY = "infinity"


@dataclass(frozen=True)
class ExtractRequest:
    """What a run extracts.

    :param from_at: re-extract the interventions updated from this time (explicit range or backfill).
    :param to_at: up to this time (inclusive); None for no upper bound.
    :param external_ids: re-extract only these (a manual "publish those again"); implies ``force``.
    :param force: put rows back to pending even when their source fingerprint did not change.
    """

    from_at: datetime | None = None
    to_at: datetime | None = None
    external_ids: tuple[str, ...] = ()
    force: bool = False

    @property
    def mode(self) -> str:
        """``external_ids``, ``range`` or ``incremental`` (by the high-water mark, which only it moves)."""
        if self.external_ids:
            return "external_ids"
        if self.from_at is not None or self.to_at is not None:
            return "range"
        return "incremental"


@dataclass
class ExtractCounts:
    """What an extraction did.

    :param extracted: interventions read from the app.
    :param new: rows added to the ledger.
    :param changed: rows whose source changed (or forced), put back to be checked.
    :param skipped: rows read again with an unchanged fingerprint (the overlap, a range over old days).
    :param mark: the high-water mark after the run, as text.
    :param missing_external_ids: requested external ids the app does not have (or not as a completed
        intervention): reported in the run summary, never silently dropped.
    """

    extracted: int = 0
    new: int = 0
    changed: int = 0
    skipped: int = 0
    mark: str | None = None
    mode: str = "incremental"
    pages: int = field(default=0)
    missing_external_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The counts for XCom and the run summary."""
        return {
            "extracted": self.extracted,
            "new": self.new,
            "changed": self.changed,
            "skipped": self.skipped,
            "mark": self.mark,
            "mode": self.mode,
            "pages": self.pages,
            "missing_external_ids": list(self.missing_external_ids),
        }


def read_mark(sync: psycopg.Connection, pipeline: str = PIPELINE) -> tuple[datetime, int] | None:
    """The persisted high-water mark (updated_at, id) of ``pipeline``, None before the first run.

    :param sync: a connection to the ``sync`` database.
    :param pipeline: whose mark.
    """
    row = sync.execute(query("watermark_read"), {"pipeline": pipeline}).fetchone()
    return None if row is None else (row[0], int(row[1]))


def _stage_and_upsert(
    sync: psycopg.Connection, rows: list[tuple[Any, ...]], *, run_id: str, force: bool, subject_keys: SubjectKeys
) -> tuple[int, int]:
    """COPY a page into the staging table and upsert it into the ledger, then record the keyed hashes of the
    touched rows' identifiers; (new, changed) row counts."""
    with sync.cursor() as cur:
        cur.execute(query("ledger_stage"))
        with cur.copy(
            "COPY publish_extracted (external_id, app_intervention_id, app_status, app_updated_at, source, "
            "source_fingerprint) FROM STDIN"
        ) as copy:
            for intervention_id, updated_at, external_id, status, source, _ in rows:
                source_fingerprint = hashlib.sha256(source.encode("utf-8")).hexdigest()
                copy.write_row((external_id, intervention_id, status, updated_at, source, source_fingerprint))
        cur.execute(query("ledger_upsert"), {"run_id": run_id, "force": force})
        touched = cur.fetchall()
        _record_subject_keys(cur, rows, {str(external_id) for external_id, _ in touched}, subject_keys)
        cur.execute(query("ledger_unstage"))
    new = sum(1 for _, inserted in touched if inserted)
    return new, len(touched) - new


def _record_subject_keys(
    cur: psycopg.Cursor[Any], rows: list[tuple[Any, ...]], touched: set[str], subject_keys: SubjectKeys
) -> None:
    """Keyed hashes of the customer id and e-mail of each touched row (the erasure's index, migration 0017)."""
    versions: list[int] = []
    hashes: list[bytes] = []
    external_ids: list[str] = []
    for _, _, external_id, _, source, customer_id in rows:
        if str(external_id) not in touched:
            continue
        for kind, value in subject_identifiers(json.loads(source), customer_id):
            versions.append(subject_keys.version)
            hashes.append(subject_keys.current(kind, value))
            external_ids.append(str(external_id))
    if external_ids:
        cur.execute(
            query("subject_keys_record"),
            {"key_versions": versions, "key_hashes": hashes, "external_ids": external_ids},
        )


def _read_pages(
    app: psycopg.Connection,
    statement: Any,
    after_at: Any,
    after_id: int,
    until_at: Any,
    request: ExtractRequest,
    settings: PublishSettings,
) -> Iterator[list[tuple[Any, ...]]]:
    """Keyset pages of source records, the next one read in a thread while the caller upserts the current one.

    At most two pages are in memory: the queue holds one, the caller the other.
    """
    pages: queue.Queue[list[tuple[Any, ...]] | BaseException | None] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        position = (after_at, after_id)
        try:
            while not stop.is_set():
                params = {
                    "after_at": position[0],
                    "after_id": position[1],
                    "until_at": until_at,
                    "page_size": settings.page_size,
                    "external_ids": list(request.external_ids),
                }
                rows = app.execute(statement, params).fetchall()
                app.commit()
                if not rows:
                    break
                pages.put(rows)
                if len(rows) < settings.page_size:
                    break
                position = max((row[1], int(row[0])) for row in rows)
        except BaseException as exc:
            pages.put(exc)
            return
        pages.put(None)

    reader = threading.Thread(target=produce, name="extract-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = pages.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        # The caller may stop early (an upsert failed): let the reader finish instead of blocking on put().
        stop.set()
        while reader.is_alive():
            with contextlib.suppress(queue.Empty):
                pages.get(timeout=0.05)
        reader.join()


def extract(
    app_dsn: str,
    sync_dsn: str,
    request: ExtractRequest,
    *,
    run_id: str,
    settings: PublishSettings | None = None,
    subject_keys: SubjectKeys | None = None,
) -> ExtractCounts:
    """Extract the run's interventions from the app into the ledger.

    :param app_dsn: the app's database (only read).
    :param sync_dsn: the ``sync`` database.
    :param request: incremental (by the mark, minus the overlap), an explicit range, or external ids.
    :param run_id: the Airflow run, recorded on the rows it touched.
    :param settings: the pipeline's settings.
    :param subject_keys: the keys of the erasure's index (default: the connection ``symphonics_subject_keys``).
    """
    with psycopg.connect(app_dsn) as app, psycopg.connect(sync_dsn) as sync:
        return extract_on(app, sync, request, run_id=run_id, settings=settings, subject_keys=subject_keys)


def extract_on(
    app: psycopg.Connection,
    sync: psycopg.Connection,
    request: ExtractRequest,
    *,
    run_id: str,
    settings: PublishSettings | None = None,
    subject_keys: SubjectKeys | None = None,
    inside_transaction: bool = False,
) -> ExtractCounts:
    """:func:`extract` on open connections.

    :param app: the app's database (set read-only here).
    :param sync: the ``sync`` database.
    :param request: as for :func:`extract`.
    :param run_id: as for :func:`extract`.
    :param settings: as for :func:`extract`.
    :param subject_keys: as for :func:`extract`.
    :param inside_transaction: ``sync`` is inside a transaction the caller ends (a dry run rolls it back): each
        page is a savepoint, not a commit.
    """
    settings = settings or PublishSettings()
    subject_keys = subject_keys or load_subject_keys()
    counts = ExtractCounts(mode=request.mode)
    force = request.force or bool(request.external_ids)
    selection = "select_external_ids" if request.external_ids else "select_changed"
    statement = extraction_query(selection)
    app.read_only = True
    after_at, after_id, until_at = _range_to_read(sync, request, settings)
    if not inside_transaction:
        sync.commit()

    pages = _read_pages(app, statement, after_at, after_id, until_at, request, settings)
    found: set[str] = set()
    for rows in pages:
        counts.pages += 1
        counts.extracted += len(rows)
        found.update(str(row[2]) for row in rows)
        new, changed = _upsert_page(sync, rows, request, run_id=run_id, force=force, subject_keys=subject_keys)
        counts.new += new
        counts.changed += changed

    _complete_counts(sync, counts, request, found)
    return counts


def _range_to_read(
    sync: psycopg.Connection, request: ExtractRequest, settings: PublishSettings
) -> tuple[Any, int, Any]:
    """Where the extraction starts (``after_at``, ``after_id``, exclusive) and ends (``until_at``, inclusive).

    :param sync: the ``sync`` database (the high-water mark of an incremental run).
    :param request: the extraction asked for.
    :param settings: the pipeline's settings (the overlap).
    """
    after_at: Any = _MINUS_INFINITY
    after_id = 0
    if request.mode == "incremental":
        mark = read_mark(sync)
        if mark is not None:
            # Re-read a little below the mark: a transaction that started before the last run and
            # committed after it wrote an updated_at below the mark.
            after_at, after_id = mark[0] - settings.overlap, 0
    elif request.from_at is not None:
        after_at = request.from_at
    until_at: Any = request.to_at if request.to_at is not None else _INFINITY
    return after_at, after_id, until_at


def _upsert_page(
    sync: psycopg.Connection,
    rows: list[tuple[Any, ...]],
    request: ExtractRequest,
    *,
    run_id: str,
    force: bool,
    subject_keys: SubjectKeys,
) -> tuple[int, int]:
    """One page into the ledger, and an incremental run's high-water mark, in one transaction (or savepoint).

    :return: the rows new to the ledger and the rows changed (or forced).
    """
    with sync.transaction():
        new, changed = _stage_and_upsert(sync, rows, run_id=run_id, force=force, subject_keys=subject_keys)
        last_at, last_id = max((row[1], int(row[0])) for row in rows)
        if request.mode == "incremental":
            sync.execute(
                query("watermark_write"),
                {"pipeline": PIPELINE, "mark_at": last_at, "mark_id": last_id, "run_id": run_id},
            )
    return new, changed


def _complete_counts(sync: psycopg.Connection, counts: ExtractCounts, request: ExtractRequest, found: set[str]) -> None:
    """The counts once every page is in: the mark, the unchanged rows, the requested ids not found; logged.

    :param found: the external ids the pages held.
    """
    final = read_mark(sync)
    counts.mark = None if final is None else f"{final[0].isoformat()}#{final[1]}"
    counts.skipped = counts.extracted - counts.new - counts.changed
    counts.missing_external_ids = [external_id for external_id in request.external_ids if external_id not in found]
    if counts.missing_external_ids:
        # External ids are the app's references, not personal data: they are logged in full.
        log.warning(
            "%s requested external id(s) not found in the app: %s",
            len(counts.missing_external_ids),
            ", ".join(counts.missing_external_ids),
        )
    log.info(
        "extracted %s interventions (%s mode, %s pages): %s new, %s changed, %s unchanged; mark %s",
        counts.extracted,
        counts.mode,
        counts.pages,
        counts.new,
        counts.changed,
        counts.skipped,
        counts.mark,
    )
