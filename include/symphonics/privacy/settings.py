"""The privacy tunables, read from the environment when a task runs (never at parse time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from include.symphonics.core.config import env_float, env_int
from include.symphonics.db import APP_CONN_ID, SYNC_CONN_ID

#: Days a finished row keeps its (pseudonymised) personal data when ``SYMPHONICS_PERSONAL_DATA_RETENTION_DAYS``
#: is not set.
DEFAULT_RETENTION_DAYS = 90


@dataclass(frozen=True)
class PrivacySettings:
    """How long personal data stays and how the passes over the ledger are cut.

    :param retention: a finished row (no publish run works on it) keeps its personal data this long after its
        last state change.
    :param batch_size: rows per transaction of the minimisation and the retention (short locks, bounded WAL).
    :param sync_conn_id: the ``sync`` database.
    :param app_conn_id: the app's database, read by an erasure to find a person's interventions.
    """

    retention: timedelta = timedelta(days=DEFAULT_RETENTION_DAYS)
    batch_size: int = 5000
    sync_conn_id: str = SYNC_CONN_ID
    app_conn_id: str = APP_CONN_ID

    @classmethod
    def from_environment(cls) -> PrivacySettings:
        """The settings, with ``SYMPHONICS_PERSONAL_DATA_RETENTION_DAYS`` and ``SYMPHONICS_PRIVACY_BATCH_SIZE``.

        :raises ValueError: a retention under one day or a batch size under 1 (a typo must not erase data early).
        """
        days = env_float("SYMPHONICS_PERSONAL_DATA_RETENTION_DAYS", DEFAULT_RETENTION_DAYS, minimum=1)
        batch_size = env_int("SYMPHONICS_PRIVACY_BATCH_SIZE", 5000, minimum=1)
        return cls(retention=timedelta(days=days), batch_size=batch_size)
