"""Erasure on request (GDPR art. 17): a person's data removed or masked everywhere in the ``sync`` database.

The person is named by their e-mail or the app's customer id. Their interventions are found through the
erasure's index (``symphonics.subject_keys``: keyed hashes of every customer id and e-mail an intervention
carried, ``privacy/subject_index.py``) and in the app (read only, when reachable); their other identifiers (name,
phone, address, PDL) come from the app and from their ledger records still in clear. Then, in one transaction,
touching only rows found through an index (no table is read whole but two small ones):

* their ledger rows lose every personal value for good (removal markers) and are marked ``erased_at``: no publish
  step claims them again, whatever the app still holds; states, reasons, ids and counts stay;
* the app copy loses their masked e-mail and phone; webhook events about them lose raw body and notes;
* the partner's cached answers about their PDLs, addresses and e-mail are deleted;
* the free text of their interventions' rows that may name anyone (partner notes) is emptied, and their
  identifiers are replaced in the other text and JSON columns of those rows (:data:`COVERAGE` says how each table
  is reached); the two small tables ops keep short (alerts, webhook rejections) are swept whole;
* their keyed hashes are deleted;
* ``symphonics.privacy_erasures`` records when, what kind of request, and how many rows of which table: never
  who. Running it again finds nothing more to change, so a retried task is harmless.

The partner holds its own copy: docs/PERSONAL_DATA.md says how to ask for its erasure.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from include.symphonics.core.markers import removal_marker
from include.symphonics.core.normalise import lookup_address, lookup_key, normalise_pdl, normalise_phone
from include.symphonics.core.subject_keys import SubjectKeys, SubjectKeysError, load_subject_keys
from include.symphonics.privacy import subject_index
from include.symphonics.privacy.fields import dotted_paths
from include.symphonics.privacy.sqlfiles import query

log = logging.getLogger(__name__)

#: The requester's reference (a ticket number): short and free of personal data by construction.
_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$")
#: Identifiers shorter than this are not swept across the whole database (they could be part of anything).
_MIN_SWEPT = 5
#: How an erasure reaches each table of the sync database that has a text or JSON column.
OWN_STEP = "own step"  # a statement of its own, by an indexed key (erase_*.sql)
ROWS_OF_INTERVENTION = "rows of the person's interventions"  # by external_id (indexed), identifiers replaced
SWEPT_WHOLE = "swept whole"  # small tables kept short: every row, distinctive identifiers replaced
NO_PERSONAL_DATA = "no personal data"  # ids, states, codes and counts by construction

COVERAGE: dict[tuple[str, str], str] = {
    ("symphonics", "interventions_ledger"): OWN_STEP,  # erase_ledger.sql, by path: other people's sends untouched
    ("symphonics", "app_interventions_copy"): OWN_STEP,  # erase_app_copy.sql
    ("symphonics", "webhook_events"): OWN_STEP,  # erase_webhooks.sql (also by the partner's id)
    ("symphonics", "pdl_validations"): OWN_STEP,  # erase_caches.sql, by PDL
    ("symphonics", "pdl_lookups"): OWN_STEP,  # erase_caches.sql, by lookup key (a cache that expires)
    ("symphonics", "installer_validations"): OWN_STEP,  # erase_caches.sql, by e-mail
    ("symphonics", "subject_keys"): OWN_STEP,  # erase_subject_keys.sql
    ("symphonics", "status_history"): ROWS_OF_INTERVENTION,
    ("symphonics", "intervention_sync_state"): ROWS_OF_INTERVENTION,
    ("symphonics", "dry_run_results"): ROWS_OF_INTERVENTION,
    ("analytics", "snapshot_changes"): ROWS_OF_INTERVENTION,  # the snapshots' store (0022; insert-only but for this)
    ("symphonics", "alerts"): SWEPT_WHOLE,
    ("symphonics", "webhook_rejections"): SWEPT_WHOLE,  # bodies of refused requests, blanked after 30 days
    ("symphonics", "ledger_history"): NO_PERSONAL_DATA,  # and read-only to the pipeline's role (0011)
    ("symphonics", "privacy_erasures"): NO_PERSONAL_DATA,
    ("symphonics", "api_calls"): NO_PERSONAL_DATA,
    ("symphonics", "api_tokens"): NO_PERSONAL_DATA,
    ("symphonics", "completion_watchers"): NO_PERSONAL_DATA,
    ("symphonics", "healthchecks"): NO_PERSONAL_DATA,
    ("symphonics", "publish_runs"): NO_PERSONAL_DATA,
    ("symphonics", "publish_watermarks"): NO_PERSONAL_DATA,
    ("symphonics", "quota_class_usage"): NO_PERSONAL_DATA,
    ("symphonics", "quota_windows"): NO_PERSONAL_DATA,
    ("symphonics", "status_poll_queue"): NO_PERSONAL_DATA,
    ("symphonics", "webhook_refusals"): NO_PERSONAL_DATA,
    ("analytics", "snapshot_builds"): NO_PERSONAL_DATA,
    ("symphonics", "watchdog_marks"): NO_PERSONAL_DATA,  # a check's name and how far it read (0015)
}
#: Free text that may name anyone (the partner's notes): emptied in the person's rows rather than searched, so
#: a name spelt otherwise, or known to no source, goes too.
FREE_TEXT_OF_ROWS = {
    ("symphonics", "status_history", "notes"),
    ("symphonics", "intervention_sync_state", "partner_notes"),
    ("analytics", "snapshot_changes", "partner_notes"),
}


class ErasureRequestError(ValueError):
    """The request names nobody, or names them in a way that cannot be trusted."""


#: Failures the same request meets again on every try, so a task retry only delays them (by 15 min with the
#: DAGs' two retries): a malformed request, the index's keys missing or short, a permission the role lacks, a
#: missing object (both ``ProgrammingError``), a value PostgreSQL refuses (``DataError``). A lost connection, a
#: deadlock or a cancelled statement (``OperationalError``) may pass on the next try and stays retried.
DETERMINISTIC_ERRORS: tuple[type[Exception], ...] = (
    ErasureRequestError,
    SubjectKeysError,
    psycopg.ProgrammingError,
    psycopg.DataError,
)


@dataclass(frozen=True)
class ErasureRequest:
    """Whom to erase: exactly one of ``email`` and ``customer_id``.

    :param email: the customer's e-mail (any case).
    :param customer_id: the app's ``customers.id``.
    :param reference: the request's reference (ticket number), recorded; no personal data.
    :param requested_by: who ran it (``cli``, or the DAG run id), recorded.
    """

    email: str | None = None
    customer_id: int | None = None
    reference: str | None = None
    requested_by: str = "cli"

    def __post_init__(self) -> None:
        email = (self.email or "").strip() or None
        object.__setattr__(self, "email", email)
        if (email is None) == (self.customer_id is None):
            raise ErasureRequestError("give exactly one of the customer's e-mail and the app's customer id")
        if email is not None and ("@" not in email or len(email) > 254 or any(ch.isspace() for ch in email)):
            raise ErasureRequestError("the e-mail is not an address (name@domain)")
        if self.customer_id is not None and (isinstance(self.customer_id, bool) or int(self.customer_id) < 1):
            raise ErasureRequestError("the customer id must be a positive integer")
        if self.reference is not None and not _REFERENCE.match(self.reference):
            raise ErasureRequestError(
                "the reference must be 1-64 letters, digits or ._:/#- (a ticket number, never an e-mail or a name)"
            )

    @property
    def subject_kind(self) -> str:
        """``email`` or ``customer_id``: what the record says of the request."""
        return "email" if self.email is not None else "customer_id"


@dataclass
class Subject:
    """What the sync may hold of one person: their interventions and their identifiers."""

    external_ids: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    single_names: set[str] = field(default_factory=set)
    last_names: set[str] = field(default_factory=set)
    streets: set[str] = field(default_factory=set)
    pdls: set[str] = field(default_factory=set)
    lookup_keys: set[str] = field(default_factory=set)

    def add_person(self, first_name: Any, last_name: Any, email: Any, phone: Any) -> None:
        """Add a customer's name, e-mail and phone (as typed and in E.164)."""
        first, last = str(first_name or "").strip(), str(last_name or "").strip()
        if first and last:
            # Swept everywhere: full names only (a first or last name alone also names other people).
            self.names.update({f"{first} {last}", f"{last} {first}"})
        self.single_names.update(name for name in (first, last) if name)
        if last:
            self.last_names.add(last.lower())
        if email and str(email).strip():
            self.emails.add(str(email).strip().lower())
        if phone and str(phone).strip():
            self.phones.add(str(phone).strip())
            e164 = normalise_phone(str(phone))
            if e164:
                self.phones.update({e164, "0" + e164[3:] if e164.startswith("+33") else e164})

    def add_installation(self, external_id: str, installation: dict[str, Any], last_name: Any) -> None:
        """Add one intervention: its id, street, PDL and PCE (as typed and normalised), its lookup key."""
        self.external_ids.add(external_id)
        street = str(installation.get("address") or "").strip()
        if street:
            self.streets.add(street.lower())
            if last_name:
                self.lookup_keys.add(lookup_key(lookup_address(installation), str(last_name).strip()))
        for key in ("pdl", "pce"):
            raw = installation.get(key)
            if raw and str(raw).strip():
                self.pdls.add(str(raw).strip())
                normalised = normalise_pdl(str(raw))
                if normalised:
                    self.pdls.add(normalised)

    def swept_identifiers(self) -> list[str]:
        """The identifiers replaced wherever they appear: distinctive enough not to hit another person."""
        values = {*self.emails, *self.phones, *self.streets, *self.pdls, *self.names}
        return sorted((v for v in values if len(v) >= _MIN_SWEPT), key=lambda v: (-len(v), v))

    def own_rows_identifiers(self) -> list[str]:
        """The identifiers replaced in the rows of the person's own interventions: first and last names too."""
        return sorted({*self.swept_identifiers(), *self.single_names}, key=lambda v: (-len(v), v))


@dataclass
class ErasureResult:
    """What an erasure did: its record's id, the interventions found, rows changed per table, and the partner's ids
    of the interventions it holds (for the request to the partner; printed, never recorded)."""

    erasure_id: int
    interventions: int
    rows_changed: dict[str, int]
    symphonics_ids: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """For XCom and the command's output (ids only, no personal data)."""
        return {
            "erasure_id": self.erasure_id,
            "interventions": self.interventions,
            "rows_changed": self.rows_changed,
            "symphonics_ids": self.symphonics_ids,
        }


def _clear_values(record: Any) -> dict[str, Any]:
    """The values of a record's object still in clear (a minimised or erased one holds removal markers)."""
    if not isinstance(record, dict):
        return {}
    return {key: value for key, value in record.items() if isinstance(value, str)}


def find_subject(request: ErasureRequest, sync: psycopg.Connection, app_dsn: str | None, keys: SubjectKeys) -> Subject:
    """The person's interventions and identifiers, from the erasure's index, the app (when given) and the
    ledger records of those interventions still in clear.

    :param request: whom.
    :param sync: a connection to the ``sync`` database.
    :param app_dsn: the app's database, read only; None when it is not reachable (the index alone finds them).
    :param keys: the index's keys.
    """
    subject = Subject()
    if request.email is not None:
        subject.emails.add(request.email.lower())
    if app_dsn is not None:
        with psycopg.connect(app_dsn, row_factory=dict_row) as app:
            app.read_only = True
            rows = app.execute(
                query("app_subject"), {"email": request.email, "customer_id": request.customer_id}
            ).fetchall()
        for row in rows:
            subject.add_person(row["first_name"], row["last_name"], row["email"], row["phone"])
            if row["external_id"] is not None:
                subject.add_installation(row["external_id"], row, row["last_name"])
    subject.external_ids.update(
        subject_index.find_interventions(sync, keys, email=request.email, customer_id=request.customer_id)
    )
    if subject.external_ids:
        with sync.cursor(row_factory=dict_row) as cur:
            for row in cur.execute(query("ledger_sources"), {"external_ids": sorted(subject.external_ids)}):
                customer = _clear_values(row["source"].get("customer"))
                subject.add_person(
                    customer.get("first_name"), customer.get("last_name"), customer.get("email"), customer.get("phone")
                )
                subject.add_installation(
                    row["external_id"], _clear_values(row["source"].get("installation")), customer.get("last_name")
                )
    return subject


def _pattern(identifiers: Iterable[str], *, as_json: bool) -> str | None:
    forms: set[str] = set()
    for value in identifiers:
        forms.add(value)
        if as_json:
            forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    if not forms:
        return None
    # re.escape escapes no letter or digit, so its output means the same in PostgreSQL's regular expressions.
    return "|".join(re.escape(form) for form in sorted(forms, key=lambda f: (-len(f), f)))


def _redact_rows(sync: psycopg.Connection, subject: Subject, counts: dict[str, int]) -> None:
    """Empty the free text of the person's rows and replace their identifiers in the other text and JSON columns
    of those rows (every table, found through an index on ``external_id``); sweep the small tables whole."""
    everywhere = {"text": _pattern(subject.swept_identifiers(), as_json=False)}
    everywhere["json"] = _pattern(subject.swept_identifiers(), as_json=True)
    own = {"text": _pattern(subject.own_rows_identifiers(), as_json=False)}
    own["json"] = _pattern(subject.own_rows_identifiers(), as_json=True)
    external_ids = sorted(subject.external_ids)
    for schema, table, column, data_type, has_external_id in sync.execute(query("text_columns")).fetchall():
        coverage = COVERAGE.get((schema, table))
        if coverage in (OWN_STEP, NO_PERSONAL_DATA):
            continue
        kind = "json" if data_type in ("json", "jsonb") else "text"
        passes: list[tuple[str, str | None]] = []
        if coverage == ROWS_OF_INTERVENTION and (schema, table, column) in FREE_TEXT_OF_ROWS:
            passes.append(("blank_of_rows", "-"))
        elif coverage == ROWS_OF_INTERVENTION:
            passes.append((f"sweep_{kind}_of_rows", own[kind]))
        else:
            if coverage is None:
                # A table nobody classified yet: read whole rather than risk missing the person.
                log.warning("erasure: %s.%s is not in COVERAGE, swept whole", schema, table)
            passes.append((f"sweep_{kind}", everywhere[kind]))
            if has_external_id:
                passes.append((f"sweep_{kind}_of_rows", own[kind]))
        for statement_name, pattern in passes:
            if pattern is None or (statement_name.endswith("_of_rows") and not external_ids):  # blank_of_rows too
                continue
            statement = query(statement_name).format(
                table=sql.Identifier(schema, table),
                column=sql.Identifier(column),
                type=sql.SQL(data_type),  # json or jsonb, from the catalogue
            )
            changed = sync.execute(statement, {"pattern": pattern, "external_ids": external_ids}).rowcount
            if changed > 0:
                key = f"{schema}.{table}.{column}"
                counts[key] = counts.get(key, 0) + changed


def erase(
    request: ErasureRequest, sync_dsn: str, app_dsn: str | None, keys: SubjectKeys | None = None
) -> ErasureResult:
    """Erase one person from the ``sync`` database and record it (one transaction: all of it or nothing).

    :param request: whom, and the request's reference.
    :param sync_dsn: the ``sync`` database.
    :param app_dsn: the app's database (read only), to find the person's interventions; None if unreachable.
    :param keys: the erasure index's keys (default: the connection ``symphonics_subject_keys``).
    """
    keys = keys or load_subject_keys()
    with psycopg.connect(sync_dsn) as sync:
        subject = find_subject(request, sync, app_dsn, keys)
        external_ids = sorted(subject.external_ids)
        with sync.transaction():
            # Snapshots are immutable except to an erasure (migration 0009): for this transaction only.
            sync.execute(query("erasure_allow"))
            erasure_id = _record_start(sync, request)
            counts, symphonics_ids = _erase_own_steps(sync, subject)
            _redact_rows(sync, subject, counts)
            counts["symphonics.subject_keys"] = sync.execute(
                query("erase_subject_keys"), {"external_ids": external_ids}
            ).rowcount
            rows_changed = {table: count for table, count in sorted(counts.items()) if count}
            sync.execute(
                query("erasure_record_finish"),
                {"id": erasure_id, "interventions": len(external_ids), "rows_changed": Jsonb(rows_changed)},
            )
    result = ErasureResult(erasure_id, len(external_ids), rows_changed, sorted(symphonics_ids))
    log.info(
        "erasure %s (%s, by %s): %s intervention(s), rows changed %s",
        erasure_id,
        request.subject_kind,
        request.requested_by,
        result.interventions,
        rows_changed,
    )
    return result


def _record_start(sync: psycopg.Connection, request: ErasureRequest) -> int:
    """Open the erasure's record (what kind of request, its reference, who ran it; never whom); return its id.

    :param sync: the ``sync`` database, in the erasure's transaction.
    :param request: the request.
    """
    row = sync.execute(
        query("erasure_record_start"),
        {
            "subject_kind": request.subject_kind,
            "reference": request.reference,
            "requested_by": request.requested_by,
        },
    ).fetchone()
    assert row is not None
    return int(row[0])


def _erase_own_steps(sync: psycopg.Connection, subject: Subject) -> tuple[dict[str, int], list[str]]:
    """The statements of their own (:data:`OWN_STEP`) that come before the sweeps: the person's ledger rows, app
    copy, webhook events and rejections, and the partner's cached answers about them.

    :param sync: the ``sync`` database, in the erasure's transaction.
    :param subject: the person.
    :return: the rows changed per table, and the partner's ids of the person's interventions.
    """
    external_ids = sorted(subject.external_ids)
    counts: dict[str, int] = {}
    marker = Jsonb(removal_marker("erasure"))
    erased = sync.execute(
        query("erase_ledger"), {"external_ids": external_ids, "paths": dotted_paths(), "marker": marker}
    ).fetchall()
    counts["symphonics.interventions_ledger"] = len(erased)
    symphonics_ids = [str(sid) for (sid,) in erased if sid is not None]
    counts["symphonics.app_interventions_copy"] = sync.execute(
        query("erase_app_copy"), {"external_ids": external_ids}
    ).rowcount
    events = sync.execute(
        query("erase_webhooks"), {"external_ids": external_ids, "symphonics_ids": symphonics_ids}
    ).fetchone()
    counts["symphonics.webhook_events"], counts["symphonics.webhook_rejections"] = (
        (int(events[0]), int(events[1])) if events else (0, 0)
    )
    caches = sync.execute(
        query("erase_caches"),
        {
            "pdls": sorted(subject.pdls),
            "lookup_keys": sorted(subject.lookup_keys),
            "last_names": sorted(subject.last_names),
            "streets": sorted(subject.streets),
            "emails": sorted(subject.emails),
        },
    ).fetchone()
    if caches:
        counts["symphonics.pdl_validations"], counts["symphonics.pdl_lookups"] = int(caches[0]), int(caches[1])
        counts["symphonics.installer_validations"] = int(caches[2])
    return counts, symphonics_ids
