"""One intervention's story for the dashboard: found by any of its keys, told in time order.

:func:`search` finds the interventions a key names (external id, Symphonics id, or a request id of any call about
them). :func:`timeline` gathers what the ``sync`` database knows of one of them: its extraction (with the source's
and the payload's fingerprints), the local rules and the partner validation, every state change of the ledger
(``symphonics.ledger_history``, migration 0011), each partner call (operation, status, request id, latency,
attempt), the partner's statuses by webhook and by poll (with the next steps its last status GET gave), and the
daily snapshots it is in. Everything is read
through the dashboard's role, which cannot read the ledger's copies of the app's personal data; free text (a
state's detail, the partner's notes) is masked by the analysts' function as it is read
(``analytics.mask_personal_data``: e-mails, PDLs, phone numbers), and cleared of secrets (``redact``) before it is
shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg

from include.symphonics.core.redaction import redact
from include.symphonics.dashboard.queries import Row, _rows

#: Interventions a search lists at most.
SEARCH_LIMIT = 20
#: Characters of a key searched for (ids are short; anything longer is no key of ours).
KEY_MAX = 200


def search(conn: psycopg.Connection, key: str) -> list[Row]:
    """The interventions ``key`` names, most recently changed first.

    :param conn: the ``sync`` database.
    :param key: an external id, a Symphonics id or a request id.
    """
    key = key.strip()
    if not key or len(key) > KEY_MAX:
        return []
    return _rows(conn, "row_search", {"key": key, "limit": SEARCH_LIMIT})


def _event(at: datetime | None, kind: str, title: str, **detail: Any) -> dict[str, Any]:
    return {"at": at, "kind": kind, "title": title, "detail": {k: v for k, v in detail.items() if v is not None}}


def _masked(text: str | None) -> str | None:
    return None if text is None else redact(text)


def timeline(conn: psycopg.Connection, external_id: str) -> dict[str, Any] | None:
    """The story of one intervention, oldest event first; ``None`` when the ledger does not know it.

    Each event has ``at``, ``kind`` (``extracted``, ``local_rules``, ``partner_validation``, ``state``, ``call``,
    ``webhook``, ``poll``, ``snapshot``), a ``title`` and a ``detail`` dict.

    :param conn: the ``sync`` database.
    :param external_id: the intervention's external id.
    """
    rows = _rows(conn, "timeline_row", {"external_id": external_id})
    if not rows:
        return None
    row = rows[0]
    changes = _rows(conn, "timeline_changes", {"external_id": external_id})
    calls = _rows(conn, "timeline_calls", _call_keys(row, changes))
    partner = _rows(conn, "timeline_partner", {"external_id": external_id})
    snapshots = _rows(conn, "timeline_snapshots", {"external_id": external_id})
    events = [
        *_row_events(row),
        *_state_events(changes),
        *map(_call_event, calls),
        *_partner_events(partner),
        *map(_snapshot_event, snapshots),
    ]
    events.sort(key=lambda event: event["at"])  # stable: same-instant events keep the order they were gathered in
    return {"external_id": external_id, "current": _current(conn, external_id, row, partner), "events": events}


def _call_keys(row: Row, changes: list[Row]) -> dict[str, Any]:
    """What finds the partner calls about the row: every request id it had, and its Symphonics id."""
    request_ids = sorted({c["request_id"] for c in changes if c["request_id"]} | {row["last_request_id"]} - {None})
    symphonics_id = row["symphonics_id"] or next((c["symphonics_id"] for c in changes if c["symphonics_id"]), None)
    return {"request_ids": request_ids, "symphonics_id": symphonics_id}


def _row_events(row: Row) -> list[dict[str, Any]]:
    """The row's extraction, then its local rules and partner validation when it went through them."""
    events = [
        _event(
            row["first_seen_at"],
            "extracted",
            "extracted from the app",
            app_intervention_id=row["app_intervention_id"],
            app_status=row["app_status"],
            app_updated_at=row["app_updated_at"],
            source_fingerprint=row["source_fingerprint"],
        )
    ]
    if row["prevalidated_at"] is not None:
        events.append(
            _event(
                row["prevalidated_at"],
                "local_rules",
                "local rules checked",
                payload_fingerprint=row["payload_fingerprint"],
            )
        )
    if row["validated_at"] is not None:
        events.append(_event(row["validated_at"], "partner_validation", "validated with the partner"))
    return events


def _state_events(changes: list[Row]) -> list[dict[str, Any]]:
    """The ledger's state changes, oldest first as read."""
    events = []
    previous_request: str | None = None
    for change in changes:
        title = f"{change['from_state'] or 'new'} → {change['to_state']}"
        # The ledger keeps its last request id: shown on the change that brought a new one only.
        request_id = change["request_id"] if change["request_id"] != previous_request else None
        previous_request = change["request_id"] or previous_request
        events.append(
            _event(
                change["changed_at"],
                "state",
                title,
                reason=change["reason"],
                attempts=change["attempts"],
                http_status=change["http_status"],
                error_code=change["error_code"],
                request_id=request_id,
                run_id=change["run_id"],
                payload_fingerprint=change["payload_fingerprint"],
            )
        )
    return events


def _call_event(call: Row) -> dict[str, Any]:
    """One partner call (``no reply`` when it got none)."""
    answer = call["status"] if call["status"] is not None else "no reply"
    return _event(
        call["called_at"],
        "call",
        f"{call['operation']} {call['method']} → {answer}",
        path=call["path"],
        status=call["status"],
        error_code=call["error_code"],
        request_id=call["request_id"],
        latency_ms=None if call["latency_ms"] is None else round(float(call["latency_ms"]), 1),
        attempt=call["attempt"],
        priority_class=call["priority_class"],
        run_id=call["run_id"],
    )


def _partner_events(partner: list[Row]) -> list[dict[str, Any]]:
    """The partner's statuses and documents by webhook and by poll, their notes masked."""
    events = []
    for item in partner:
        if item["source"] == "publish":
            continue  # the reconciliation's copy of the ledger's state: the state changes above say it first-hand
        kind = "webhook" if item["source"] == "webhook" else "poll"
        subject = f"document {item['document_type']}" if item["event_kind"] == "document" else "status"
        events.append(
            _event(
                item["occurred_at"],
                kind,
                f"{kind}: {subject} {item['from_status'] or '?'} → {item['to_status']}",
                notes=_masked(item["notes"]),
                recorded_at=item["recorded_at"],
                run_id=item["run_id"],
            )
        )
    return events


def _snapshot_event(snap: Row) -> dict[str, Any]:
    """One daily snapshot the row is in."""
    return _event(
        snap["as_of"],
        "snapshot",
        f"snapshot {snap['snapshot_date']}: {snap['category']}",
        ledger_state=snap["ledger_state"],
        partner_status=snap["partner_status"],
    )


def _current(conn: psycopg.Connection, external_id: str, row: Row, partner: list[Row]) -> dict[str, Any]:
    """The row as it is now: its state (detail masked), the next steps the partner gave, its latest status."""
    current = {key: row[key] for key in ("state", "state_reason", "symphonics_id", "attempts", "last_run_id")}
    current["state_detail"] = _masked(row["state_detail"])
    steps = _rows(conn, "timeline_next_steps", {"external_id": external_id})
    current["next_steps"] = (steps[0]["next_steps"] if steps else None) or []
    # The partner's latest status of the file (webhook or poll), for a truthful headline: published, then rejected.
    statuses = [item for item in partner if item["source"] != "publish" and item["event_kind"] != "document"]
    current["partner_status"] = statuses[-1]["to_status"] if statuses else None
    return current
