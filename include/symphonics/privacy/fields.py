"""Which fields of the ledger's records are personal, and how they are reduced.

One definition for the Python minimisation and the SQL retention and erasure (``symphonics.redact_personal``
receives :data:`PERSONAL_PATHS` as a parameter). Pure functions: no database, no network.

A finished row keeps, in place of each personal value, a *fingerprint marker* ``{"sha256": …}``: the SHA-256
of the row's external id and the value, so the diff of a later edit (an address changed after publication)
still names the field without the value being stored. Retention and erasure replace even that by a
*removal marker* ``{"removed": "retention"}`` (or ``"erasure"``): an edit of that field is then no longer seen.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from include.symphonics.core.markers import fingerprint_marker, is_marker

#: Paths of personal values in a source record (``sql/publish/build_sources.sql``) and in a payload
#: (``publish/payload.py``). ``photos`` as a whole: their coordinates locate the home and their URLs show it.
#: Documents are handled apart: their ``name`` (it carries the customer's name) is dropped, type and URL stay
#: (the URL tells which documents the partner already holds).
PERSONAL_PATHS: tuple[tuple[str, ...], ...] = (
    ("customer", "first_name"),
    ("customer", "last_name"),
    ("customer", "email"),
    ("customer", "phone"),
    ("installation", "address"),
    ("installation", "pdl"),
    ("installation", "pce"),
    ("installer", "email"),
    ("installer", "name"),
    ("photos",),
)


def dotted_paths() -> list[str]:
    """:data:`PERSONAL_PATHS` as dotted names (``customer.email``): what ``symphonics.redact_personal`` takes."""
    return [".".join(path) for path in PERSONAL_PATHS]


def _get(record: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = record
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _set(record: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    target = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def minimise_record(record: Mapping[str, Any] | None, salt: str) -> dict[str, Any] | None:
    """A copy of a source record or payload with each personal value replaced by its fingerprint marker and
    the documents' names dropped; markers already there stay as they are (minimising twice changes nothing).

    :param record: the record (None stays None).
    :param salt: the row's external id.
    """
    if record is None:
        return None
    reduced: dict[str, Any] = copy.deepcopy(dict(record))
    for path in PERSONAL_PATHS:
        value = _get(reduced, path)
        if value is None or is_marker(value):
            continue
        _set(reduced, path, fingerprint_marker(value, salt))
    documents = reduced.get("documents")
    if isinstance(documents, list):
        reduced["documents"] = minimise_documents(documents)
    return reduced


def minimise_documents(documents: list[Any] | None) -> list[Any]:
    """Documents without their names (type and URL stay).

    :param documents: a ``documents`` list (or ``sent_documents``).
    """
    return [
        {key: value for key, value in document.items() if key != "name"} if isinstance(document, Mapping) else document
        for document in documents or []
    ]


def minimise_changed_fields(changed: Mapping[str, Any] | None, salt: str) -> dict[str, Any] | None:
    """``changed_fields`` with the values of personal fields replaced by fingerprint markers (names stay).

    :param changed: ``{"installation.address": {"sent": …, "now": …}, …}``.
    :param salt: the row's external id.
    """
    if changed is None:
        return None
    personal = set(dotted_paths())
    reduced: dict[str, Any] = {}
    for name, change in changed.items():
        if name in personal and isinstance(change, Mapping):
            reduced[name] = {
                side: value if value is None or is_marker(value) else fingerprint_marker(value, salt)
                for side, value in change.items()
            }
        else:
            reduced[name] = change
    return reduced
