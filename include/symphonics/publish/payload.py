"""The payload sent to Symphonics, built from an extracted source record; its fingerprint; what changed.

Pure functions (no database, no network), so the rules are unit-tested alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from include.symphonics.core.markers import is_marker, same_as_marker
from include.symphonics.core.normalise import normalise_pdl
from include.symphonics.core.states import LedgerState, check_transition

POSTAL_CODE = re.compile(r"^[0-9]{5}$")
# The partner's own e-mail check is stricter than "has an @"; this catches what the app lets through.
# A dot-atom local part (no leading, trailing or doubled dot) and a dotted host name: what partners accept.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+$")

#: The fields of the documented create payload that a PATCH cannot change: the document's PATCH carries
#: ``documents`` only, so a photo added or changed after publication is unpatchable too. A difference in one of
#: these after publication is reported as changed_after_publish.
UNPATCHABLE_FIELDS: tuple[tuple[str, ...], ...] = (
    ("customer", "first_name"),
    ("customer", "last_name"),
    ("customer", "email"),
    ("customer", "phone"),
    ("installation", "address"),
    ("installation", "postal_code"),
    ("installation", "city"),
    ("installation", "pdl"),
    ("installation", "pce"),
    ("installer", "company_id"),
    ("installer", "name"),
    ("services",),
    ("equipment",),
    ("photos",),
    ("completion_date",),
)


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal data gives equal text, whatever the key order."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(value: Any) -> str:
    """SHA-256 of :func:`canonical_json` (hex): tells a changed source or payload from an unchanged one.

    :param value: JSON-serialisable data.
    """
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def pdl_is_missing(raw: str | None) -> bool:
    """Whether no PDL was typed at all (NULL or blank).

    :param raw: the PDL as typed in the app.
    """
    return raw is None or not raw.strip()


def address_is_usable(installation: Mapping[str, Any]) -> bool:
    """Whether an address can be looked up: a 5-digit postal code, a street and a city.

    The partner answers "not found" otherwise, so the lookup would be a wasted call.

    :param installation: the ``installation`` block of a source record.
    """
    street = (installation.get("address") or "").strip()
    city = (installation.get("city") or "").strip()
    postal_code = (installation.get("postal_code") or "").strip()
    return bool(street and city and POSTAL_CODE.match(postal_code))


def email_is_well_formed(email: str | None) -> bool:
    """Whether an e-mail address looks like one the partner accepts.

    :param email: the address.
    """
    return bool(email) and len(email or "") <= 254 and bool(EMAIL.match(email or ""))


def coordinates_in_range(latitude: float, longitude: float) -> bool:
    """Whether a photo's coordinates are a point on Earth (latitude ±90, longitude ±180).

    :param latitude: degrees north.
    :param longitude: degrees east.
    """
    return -90.0 <= float(latitude) <= 90.0 and -180.0 <= float(longitude) <= 180.0


def _without_none(item: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if value is not None}


def build_payload(source: Mapping[str, Any], *, phone_e164: str, pdl: str | None) -> dict[str, Any]:
    """The create payload of a source record that passed the local rules.

    ``installer.id`` (the partner's user id) is filled by the partner validation, and so is
    ``installation.pdl`` when it comes from a lookup.

    :param source: the extracted record (see ``sql/publish/build_sources.sql``).
    :param phone_e164: the customer's phone, normalised.
    :param pdl: the normalised PDL, None when it is to be looked up.
    """
    customer = source["customer"]
    installation = source["installation"]
    installer = source["installer"]
    pce = normalise_pdl(installation.get("pce"))
    return {
        "external_id": source["external_id"],
        "customer": {
            "first_name": customer["first_name"],
            "last_name": customer["last_name"],
            "email": customer["email"],
            "phone": phone_e164,
        },
        "installation": _without_none(
            {
                "address": installation["address"].strip(),
                "postal_code": installation["postal_code"].strip(),
                "city": installation["city"].strip(),
                "pdl": pdl,
                "pce": pce,
            }
        ),
        "services": [dict(service) for service in source.get("services") or []],
        "equipment": [_without_none(item) for item in source.get("equipment") or []],
        "documents": [dict(document) for document in source.get("documents") or []],
        "photos": [
            {
                "type": photo["type"],
                "url": photo["url"],
                "coordinates": {"latitude": photo["latitude"], "longitude": photo["longitude"]},
                "timestamp": photo["timestamp"],
            }
            for photo in source.get("photos") or []
        ],
        "installer": {"id": None, "company_id": installer["company_id"], "name": installer["name"]},
        "completion_date": source["completion_date"],
    }


def new_documents(documents: Sequence[Mapping[str, Any]], sent: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The documents not sent yet (by URL), in their order: what a PATCH carries.

    :param documents: the documents the app holds now.
    :param sent: the documents the partner holds.
    """
    sent_urls = {document.get("url") for document in sent}
    return [dict(document) for document in documents if document.get("url") not in sent_urls]


def _field(payload: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = payload
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def unpatchable_changes(current: Mapping[str, Any], sent: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The fields that differ between the payload now and the one the partner holds, which a PATCH cannot carry.

    A PDL the partner found by lookup (absent from the app) is not a change. A personal value the ledger keeps
    only as a fingerprint (``privacy/fields.py``) is compared by fingerprint; one removed by retention or
    erasure cannot be compared and is not reported.

    :param current: the payload built from the app's data now (before partner enrichment).
    :param sent: the payload sent (with its PATCHes), possibly minimised.
    :return: ``{"installation.address": {"sent": ..., "now": ...}, ...}``.
    """
    changes: dict[str, dict[str, Any]] = {}
    salt = str(current.get("external_id") or sent.get("external_id") or "")
    for path in UNPATCHABLE_FIELDS:
        now, before = _field(current, path), _field(sent, path)
        if path == ("installation", "pdl") and now is None:
            continue
        if is_marker(before):
            if same_as_marker(before, now, salt) is False:
                changes[".".join(path)] = {"sent": before, "now": now}
            continue
        if canonical_json(now) != canonical_json(before):
            changes[".".join(path)] = {"sent": before, "now": now}
    return changes


def decided_row(
    row_id: int,
    old: LedgerState,
    new: LedgerState,
    reason: str | None,
    detail: str | None,
    payload: dict[str, Any] | None,
    run_id: str,
) -> dict[str, Any]:
    """The parameters a step's decision on a row binds: its new state, reason, detail and payload.

    :raises ValueError: for a move :data:`~include.symphonics.core.states.TRANSITIONS` does not hold.
    """
    from psycopg.types.json import Jsonb

    check_transition(old, new)
    return {
        "id": row_id,
        "state": new.value,
        "reason": reason,
        "detail": detail,
        "payload": None if payload is None else Jsonb(payload),
        "payload_fingerprint": None if payload is None else fingerprint(payload),
        "run_id": run_id,
    }
