"""Keyed hashes of the identifiers a person is erased by: their e-mail and the app's customer id.

The sync keeps, per intervention, a keyed hash of the customer id and of every e-mail its record ever carried
(``symphonics.subject_keys``, migration 0017), so that an erasure finds the person's interventions through an
index instead of reading every row. A hash without the key reveals nothing and cannot be tested against a guess.

The keys live in the Airflow connection ``symphonics_subject_keys`` (its password: the keys, oldest first,
separated by commas), never in the database. A rotation appends a key: each stored hash is then hashed again with
the new key (``HMAC(k2, HMAC(k1, value))``), which needs no clear value, by the rehash job
(``privacy/subject_index.py``, run by the nightly reconcile). A row's ``key_version`` says how many keys its hash
went through, so a lookup during a rotation computes the hash at every version and finds rows of either.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: The Airflow connection holding the keys (password: comma-separated, oldest first).
SUBJECT_KEYS_CONN_ID = "symphonics_subject_keys"
#: A key shorter than this is refused: it could be guessed, and with it every e-mail tested.
MIN_KEY_LENGTH = 32

EMAIL = "email"
CUSTOMER_ID = "customer_id"


class SubjectKeysError(ValueError):
    """The keys are missing or too short (the message never holds a key)."""


@dataclass(frozen=True)
class SubjectKeys:
    """The keyed hash of an identifier at each key version.

    :param keys: the secret keys, oldest first (version ``n`` is the hash through the first ``n`` keys).
    """

    keys: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise SubjectKeysError(f"the connection {SUBJECT_KEYS_CONN_ID} holds no key")
        if any(len(key) < MIN_KEY_LENGTH for key in self.keys):
            raise SubjectKeysError(f"each key of {SUBJECT_KEYS_CONN_ID} needs at least {MIN_KEY_LENGTH} characters")

    @classmethod
    def parse(cls, secret: str) -> SubjectKeys:
        """The keys of a connection's password: comma-separated, oldest first, blanks around them ignored."""
        return cls(tuple(part.strip().encode() for part in secret.split(",") if part.strip()))

    @property
    def version(self) -> int:
        """The current version: every new hash goes through all the keys."""
        return len(self.keys)

    @staticmethod
    def clear_form(kind: str, value: Any) -> bytes:
        """What is hashed: the kind, and the value as the app compares it (an e-mail in any case is one e-mail)."""
        text = str(value).strip()
        return f"{kind}:{text.lower() if kind == EMAIL else text}".encode()

    def rehash(self, digest: bytes, version: int) -> bytes:
        """A hash at ``version`` taken to ``version + 1`` (the next key), without the clear value."""
        return hmac.new(self.keys[version], digest, hashlib.sha256).digest()

    def chain(self, kind: str, value: Any) -> list[tuple[int, bytes]]:
        """``(version, hash)`` at every version, 1 to the current: what a lookup searches during a rotation."""
        digest = self.clear_form(kind, value)
        versions = []
        for version in range(self.version):
            digest = self.rehash(digest, version)
            versions.append((version + 1, digest))
        return versions

    def current(self, kind: str, value: Any) -> bytes:
        """The hash at the current version: what is stored for a new row."""
        return self.chain(kind, value)[-1][1]


def subject_identifiers(source: Mapping[str, Any], customer_id: Any) -> list[tuple[str, str]]:
    """The identifiers an erasure may name one extracted intervention by: its customer's e-mail and id.

    :param source: the extracted record (``sql/publish/build_sources.sql``).
    :param customer_id: the app's ``customers.id`` of the intervention, if known.
    """
    found: list[tuple[str, str]] = []
    customer = source.get("customer") or {}
    email = customer.get("email") if isinstance(customer, Mapping) else None
    if isinstance(email, str) and email.strip():
        found.append((EMAIL, email))
    if customer_id is not None:
        found.append((CUSTOMER_ID, str(customer_id)))
    return found


def load_subject_keys(conn_id: str = SUBJECT_KEYS_CONN_ID) -> SubjectKeys:
    """The keys of the Airflow connection ``conn_id`` (``AIRFLOW_CONN_*`` first, then the metadata database).

    :raises SubjectKeysError: no key, or a short one.
    """
    from airflow.sdk import BaseHook  # only where the connection is resolved

    return SubjectKeys.parse(BaseHook.get_connection(conn_id).password or "")
