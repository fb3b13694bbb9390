"""The markers that stand in for a personal value once it is minimised, retained or erased.

A finished row keeps, in place of each personal value, a *fingerprint marker* ``{"sha256": …}``: the SHA-256 of
the row's external id and the value, so the diff of a later edit still names the field without the value being
stored. Retention and erasure replace even that by a *removal marker* ``{"removed": "retention"}``. Publishing
compares values with markers and privacy writes them: both read this one definition. Pure functions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

FINGERPRINT_KEY = "sha256"
REMOVED_KEY = "removed"


def removal_marker(why: str) -> dict[str, str]:
    """The marker that replaces a personal value for good.

    :param why: ``retention`` or ``erasure``.
    """
    return {REMOVED_KEY: why}


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def value_fingerprint(value: Any, salt: str) -> str:
    """The salted SHA-256 (hex) of one personal value: equal values of one row give equal fingerprints.

    :param value: the value (any JSON).
    :param salt: the row's external id, so one person's e-mail gives different fingerprints on two rows.
    """
    return hashlib.sha256(f"{salt}\x00{_canonical(value)}".encode()).hexdigest()


def fingerprint_marker(value: Any, salt: str) -> dict[str, str]:
    """The marker that keeps a value's fingerprint in place of the value.

    :param value: the personal value.
    :param salt: the row's external id.
    """
    return {FINGERPRINT_KEY: value_fingerprint(value, salt)}


def is_marker(value: Any) -> bool:
    """Whether ``value`` is a fingerprint or removal marker rather than a stored value."""
    return isinstance(value, Mapping) and len(value) == 1 and (FINGERPRINT_KEY in value or REMOVED_KEY in value)


def same_as_marker(marker: Mapping[str, Any], value: Any, salt: str) -> bool | None:
    """Whether ``value`` is the value a marker stands for; None when that cannot be told (removed).

    :param marker: a fingerprint or removal marker.
    :param value: the value now.
    :param salt: the row's external id.
    """
    if FINGERPRINT_KEY in marker:
        return bool(marker[FINGERPRINT_KEY] == value_fingerprint(value, salt))
    return None
