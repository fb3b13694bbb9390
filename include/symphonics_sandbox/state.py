"""The sandbox's state: interventions and issued tokens, in memory, optionally mirrored to SQLite.

Memory is the source of truth while running (so reads cost a dict lookup); with a ``state_file`` every change
is also written to SQLite, and the file is read back at start-up, so state survives a restart. Call log, rate
counters, faults and webhook history are deliberately not persisted: a restart clears them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sqlite3
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS interventions ("
    " id TEXT PRIMARY KEY, external_id TEXT NOT NULL UNIQUE, record TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tokens ("
    " token_hash TEXT PRIMARY KEY, client_id TEXT NOT NULL, expires_at REAL NOT NULL)",
)


@dataclass
class Intervention:
    """One intervention as Symphonics holds it, with its lifecycle bookkeeping.

    :param id: the Symphonics id, ``sym_`` and 8 digits.
    :param external_id: the caller's id, unique.
    :param payload: the create body as received.
    :param status: ``created``, ``processing``, ``approved`` or ``rejected``.
    :param created_at: creation time (Unix seconds).
    :param updated_at: time of the last change (Unix seconds).
    :param processing_due: when it moves to ``processing`` (Unix seconds).
    :param decision_due: when it is decided (Unix seconds).
    :param documents: every document received, create's then PATCH's.
    :param photos: every photo received.
    :param documents_verified: how many of ``documents`` have been verified already.
    :param reopened: whether an additional proof reopened it after a rejection.
    :param notes: the notes of the last decision.
    :param history: every status change, ``{"status", "at", "notes"}``.
    """

    id: str
    external_id: str
    payload: dict[str, Any]
    status: str
    created_at: float
    updated_at: float
    processing_due: float
    decision_due: float
    documents: list[dict[str, Any]] = field(default_factory=list)
    photos: list[dict[str, Any]] = field(default_factory=list)
    documents_verified: int = 0
    reopened: bool = False
    notes: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        """Serialise for the state file."""
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Intervention:
        """Read back what :meth:`to_json` wrote.

        :param text: the serialised record.
        """
        return cls(**json.loads(text))


@dataclass(frozen=True)
class IssuedToken:
    """A token the token endpoint issued: whose it is and until when it is good.

    :param client_id: the client it was issued to.
    :param expires_at: expiry (Unix seconds).
    """

    client_id: str
    expires_at: float


def token_fingerprint(token: str) -> str:
    """The key a token is stored under: its SHA-256, so neither memory dumps nor the state file hold tokens.

    :param token: the bearer token.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def intervention_id_for(external_id: str, attempt: int) -> str:
    """A Symphonics id derived from the external id, so a reset sandbox gives the same ids again.

    :param external_id: the caller's id.
    :param attempt: 0 first, then 1, 2... while the id is taken.
    """
    digest = hashlib.sha256(f"{external_id}#{attempt}".encode()).hexdigest()
    return "sym_" + f"{int(digest, 16) % 10**8:08d}"


class StateStore:
    """Interventions and tokens, thread-safe, optionally persisted to a SQLite file.

    The lock is public because the lifecycle reads and changes a record as one step.

    :param state_file: the SQLite file, or None for memory only.
    """

    def __init__(self, state_file: str | None = None) -> None:
        self.lock = threading.RLock()
        self._interventions: dict[str, Intervention] = {}
        self._by_external_id: dict[str, str] = {}
        self._tokens: dict[str, IssuedToken] = {}
        self._db: sqlite3.Connection | None = None
        if state_file is not None:
            Path(state_file).parent.mkdir(parents=True, exist_ok=True)
            # The sandbox's threads share one connection, always under self.lock.
            self._db = sqlite3.connect(state_file, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                self._db.execute(statement)
            self._load()

    def _load(self) -> None:
        assert self._db is not None
        for (text,) in self._db.execute("SELECT record FROM interventions"):
            record = Intervention.from_json(text)
            self._interventions[record.id] = record
            self._by_external_id[record.external_id] = record.id
        for fingerprint, client_id, expires_at in self._db.execute(
            "SELECT token_hash, client_id, expires_at FROM tokens"
        ):
            self._tokens[fingerprint] = IssuedToken(client_id=client_id, expires_at=expires_at)

    def close(self) -> None:
        """Close the state file, if any."""
        with self.lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # --- interventions -------------------------------------------------------------------------------

    def create_intervention(
        self,
        external_id: str,
        payload: dict[str, Any],
        now: float,
        processing_due: float,
        decision_due: float,
    ) -> tuple[Intervention, bool]:
        """Create an intervention unless one with this external id exists.

        :param external_id: the caller's id.
        :param payload: the validated create body.
        :param now: creation time.
        :param processing_due: when it moves to ``processing``.
        :param decision_due: when it is decided.
        :return: the new intervention and True, or the existing one and False.
        """
        with self.lock:
            existing_id = self._by_external_id.get(external_id)
            if existing_id is not None:
                return self._interventions[existing_id], False
            attempt = 0
            while (new_id := intervention_id_for(external_id, attempt)) in self._interventions:
                attempt += 1
            record = Intervention(
                id=new_id,
                external_id=external_id,
                payload=payload,
                status="created",
                created_at=now,
                updated_at=now,
                processing_due=processing_due,
                decision_due=decision_due,
                documents=list(payload.get("documents") or []),
                photos=list(payload.get("photos") or []),
                history=[{"status": "created", "at": now, "notes": None}],
            )
            self._interventions[new_id] = record
            self._by_external_id[external_id] = new_id
            self.save_intervention(record)
            return record, True

    def get_intervention(self, intervention_id: str) -> Intervention | None:
        """Find an intervention by its Symphonics id.

        :param intervention_id: the ``sym_`` id.
        """
        return self._interventions.get(intervention_id)

    def interventions(self) -> list[Intervention]:
        """Every intervention, oldest first."""
        with self.lock:
            return sorted(self._interventions.values(), key=lambda record: (record.created_at, record.id))

    def save_intervention(self, record: Intervention) -> None:
        """Persist a changed intervention (memory already holds it).

        :param record: the intervention.
        """
        with self.lock:
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO interventions (id, external_id, record) VALUES (?, ?, ?)",
                    (record.id, record.external_id, record.to_json()),
                )

    # --- tokens --------------------------------------------------------------------------------------

    def add_token(self, token: str, client_id: str, expires_at: float) -> None:
        """Remember an issued token (by fingerprint only).

        :param token: the bearer token.
        :param client_id: the client it was issued to.
        :param expires_at: expiry (Unix seconds).
        """
        fingerprint = token_fingerprint(token)
        with self.lock:
            self._tokens[fingerprint] = IssuedToken(client_id=client_id, expires_at=expires_at)
            if self._db is not None:
                self._db.execute(
                    "INSERT OR REPLACE INTO tokens (token_hash, client_id, expires_at) VALUES (?, ?, ?)",
                    (fingerprint, client_id, expires_at),
                )

    def find_token(self, token: str) -> IssuedToken | None:
        """Find an issued token.

        :param token: the bearer token.
        """
        return self._tokens.get(token_fingerprint(token))

    def forget_expired_tokens(self, now: float) -> None:
        """Drop tokens that have expired, so the table does not grow without bound.

        :param now: the current time.
        """
        with self.lock:
            expired = [key for key, issued in self._tokens.items() if issued.expires_at <= now]
            for key in expired:
                del self._tokens[key]
            if self._db is not None and expired:
                self._db.execute("DELETE FROM tokens WHERE expires_at <= ?", (now,))

    def revoke_tokens(self, client_id: str | None = None) -> int:
        """Revoke every token, or every token of one client.

        :param client_id: the client whose tokens go, or None for all.
        :return: how many tokens were revoked.
        """
        with self.lock:
            doomed = [key for key, issued in self._tokens.items() if client_id is None or issued.client_id == client_id]
            for key in doomed:
                del self._tokens[key]
            if self._db is not None:
                if client_id is None:
                    self._db.execute("DELETE FROM tokens")
                else:
                    self._db.execute("DELETE FROM tokens WHERE client_id = ?", (client_id,))
            return len(doomed)

    def clear_interventions(self) -> None:
        """Forget every intervention, keeping the tokens (the partner's daily reset of its test data)."""
        with self.lock:
            self._interventions.clear()
            self._by_external_id.clear()
            if self._db is not None:
                self._db.execute("DELETE FROM interventions")

    def clear(self) -> None:
        """Forget every intervention and token (back to start)."""
        with self.lock:
            self._interventions.clear()
            self._by_external_id.clear()
            self._tokens.clear()
            if self._db is not None:
                self._db.execute("DELETE FROM interventions")
                self._db.execute("DELETE FROM tokens")
