"""Parse a webhook body into the fields the ledger needs, and derive its natural deduplication key.

The document's events carry no id: an event is identified by what it says. The key is a SHA-256 over the event
type, the intervention id, the event time (normalised to UTC, so two spellings of one instant agree) and the
status or document fields. ``notes`` and ``external_id`` are left out on purpose: they describe the event rather
than identify it, and a sender that re-renders them on a retry must not create a second event.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

STATUS_UPDATE = "intervention.status_update"
DOCUMENT_VERIFICATION = "document.verification"

#: Per known event type: the ``data`` fields that must be strings, then those that may be absent or null.
_FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    STATUS_UPDATE: (("intervention_id", "new_status"), ("external_id", "previous_status", "notes")),
    DOCUMENT_VERIFICATION: (
        ("intervention_id", "document_type", "verification_status"),
        ("external_id", "notes"),
    ),
}
KNOWN_EVENT_TYPES = tuple(_FIELDS)

# Identifiers are indexed: a B-tree entry must stay far below PostgreSQL's ~2.7 kB limit.
_MAX_ID_CHARS = 200
_MAX_EVENT_CHARS = 100
_MAX_TIMESTAMP_CHARS = 64
_UNBOUNDED = ("notes",)


class MalformedEvent(ValueError):
    """The body is not a usable event; the message says why, without echoing the body."""


@dataclass(frozen=True)
class WebhookEvent:
    """One parsed event.

    :param event_type: the ``event`` field (known or not).
    :param event_at: the ``timestamp`` field, in UTC.
    :param raw_body: the exact body, decoded (it is valid UTF-8 JSON by then).
    :param unknown_event: whether the type is none of the document's.
    :param intervention_id: Symphonics' id of the intervention (``data.intervention_id``).
    :param external_id: the app's id (``data.external_id``).
    """

    event_type: str
    event_at: datetime
    raw_body: str
    unknown_event: bool
    dedup_key: bytes
    intervention_id: str | None = None
    external_id: str | None = None
    previous_status: str | None = None
    new_status: str | None = None
    document_type: str | None = None
    verification_status: str | None = None
    notes: str | None = None


def _storable(value: str, name: str, max_chars: int | None) -> str:
    # PostgreSQL text holds neither NUL nor lone surrogates (which JSON escapes can produce).
    if "\x00" in value:
        raise MalformedEvent(f"{name} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise MalformedEvent(f"{name} is not valid Unicode") from None
    if max_chars is not None and len(value) > max_chars:
        raise MalformedEvent(f"{name} is longer than {max_chars} characters")
    return value


def _text(data: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = data.get(key)
    if value is None:
        if required:
            raise MalformedEvent(f"data.{key} is required")
        return None
    if not isinstance(value, str) or (required and not value):
        raise MalformedEvent(f"data.{key} must be a{' non-empty' if required else ''} string")
    return _storable(value, f"data.{key}", None if key in _UNBOUNDED else _MAX_ID_CHARS)


def parse_timestamp(value: Any) -> datetime:
    """The event time: ISO 8601 with a time zone (``2025-03-26T14:30:00Z``), in UTC.

    :param value: the ``timestamp`` field.
    :raises MalformedEvent: when it is not such a string.
    """
    if not isinstance(value, str) or not value or len(value) > _MAX_TIMESTAMP_CHARS:
        raise MalformedEvent("timestamp must be an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedEvent("timestamp must be an ISO 8601 string") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise MalformedEvent("timestamp must carry a time zone")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        raise MalformedEvent("timestamp is out of range") from None


def _digest(parts: list[Any]) -> bytes:
    # A JSON array separates the parts unambiguously (no "a|b" + "c" == "a" + "b|c" collisions).
    return hashlib.sha256(json.dumps(parts, ensure_ascii=True, separators=(",", ":")).encode("ascii")).digest()


def parse_event(body: bytes) -> WebhookEvent:
    """Parse and validate a body (already authenticated) into a :class:`WebhookEvent`.

    A known event type must carry its documented fields; an unknown one needs only ``event`` and ``timestamp``,
    so a new kind of event from the partner is kept (and flagged) instead of refused.

    :param body: the exact body bytes.
    :raises MalformedEvent: when it is not JSON, not an object, or misses a required field.
    """
    raw, payload = _json_object(body)
    event_type = payload.get("event")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEvent("event must be a non-empty string")
    event_type = _storable(event_type, "event", _MAX_EVENT_CHARS)
    event_at = parse_timestamp(payload.get("timestamp"))
    if event_type not in _FIELDS:
        return _unknown_event(event_type, event_at, raw, payload.get("data"))
    return _known_event(event_type, event_at, raw, payload.get("data"))


def _json_object(body: bytes) -> tuple[str, dict[str, Any]]:
    """The body decoded, and the JSON object it holds.

    :param body: the exact body bytes.
    :raises MalformedEvent: when it is not UTF-8, not JSON or not an object.
    """
    try:
        raw = body.decode("utf-8")
        payload = json.loads(raw)
    except UnicodeDecodeError:
        raise MalformedEvent("the body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise MalformedEvent("the body is not JSON") from None
    if not isinstance(payload, dict):
        raise MalformedEvent("the body must be a JSON object")
    return raw, payload


def _unknown_event(event_type: str, event_at: datetime, raw: str, data: Any) -> WebhookEvent:
    """An event of a type the document does not name: kept whole, its ids taken when they are usable.

    :param event_type: the ``event`` field.
    :param event_at: the event time, in UTC.
    :param raw: the decoded body.
    :param data: the ``data`` field, whatever it is.
    """
    ids: dict[str, str | None] = {"intervention_id": None, "external_id": None}
    if isinstance(data, dict):
        for key in ids:
            try:
                ids[key] = _text(data, key, required=False)
            except MalformedEvent:
                ids[key] = None  # an unknown event's odd fields are kept in raw_body, not refused
    try:
        canonical_data = json.dumps(data, sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    except (ValueError, RecursionError):
        canonical_data = raw
    moment = event_at.isoformat(timespec="microseconds")
    return WebhookEvent(
        event_type=event_type,
        event_at=event_at,
        raw_body=raw,
        unknown_event=True,
        dedup_key=_digest([event_type, ids["intervention_id"], moment, canonical_data]),
        **ids,
    )


def _known_event(event_type: str, event_at: datetime, raw: str, data: Any) -> WebhookEvent:
    """An event of a type the document names: its documented fields are required.

    :param event_type: the ``event`` field, one of :data:`KNOWN_EVENT_TYPES`.
    :param event_at: the event time, in UTC.
    :param raw: the decoded body.
    :param data: the ``data`` field.
    :raises MalformedEvent: when ``data`` is not an object or a field is missing or not a string.
    """
    if not isinstance(data, dict):
        raise MalformedEvent("data must be an object")
    required, optional = _FIELDS[event_type]
    fields = {key: _text(data, key, required=True) for key in required}
    fields.update({key: _text(data, key, required=False) for key in optional})
    identity = [fields.get(key) for key in ("previous_status", "new_status", "document_type", "verification_status")]
    moment = event_at.isoformat(timespec="microseconds")
    return WebhookEvent(
        event_type=event_type,
        event_at=event_at,
        raw_body=raw,
        unknown_event=False,
        dedup_key=_digest([event_type, fields["intervention_id"], moment, *identity]),
        **fields,
    )
