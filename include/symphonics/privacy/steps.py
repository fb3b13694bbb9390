"""The privacy task bodies (publish, reconcile and erasure DAGs): each resolves connections and settings at run
time, then calls a step. Nothing here runs at parse time."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from include.symphonics.core.subject_keys import load_subject_keys
from include.symphonics.db import dsn
from include.symphonics.privacy import erasure, minimise, retention, subject_index
from include.symphonics.privacy.settings import PrivacySettings

log = logging.getLogger(__name__)


def run_minimise() -> dict[str, int]:
    """Task ``minimise_personal_data`` of the publish DAG (and the reconcile's safety net)."""
    settings = PrivacySettings.from_environment()
    done = minimise.minimise_finished_rows(dsn(settings.sync_conn_id), batch_size=settings.batch_size)
    return {"minimised": done}


#: Batches of the erasure index's rehash per night (a rotation of a year's index takes a few nights at most).
REHASH_BATCHES_PER_NIGHT = 200


def run_retention() -> dict[str, Any]:
    """Task ``personal_data_retention`` of the nightly reconcile: minimise what is left, then the retention, then
    a bounded part of the erasure index's rehash when a key was added (a rotation)."""
    settings = PrivacySettings.from_environment()
    sync_dsn = dsn(settings.sync_conn_id)
    minimised = minimise.minimise_finished_rows(sync_dsn, batch_size=settings.batch_size)
    counts = retention.apply_retention(sync_dsn, retention=settings.retention, batch_size=settings.batch_size)
    rehashed = subject_index.rehash(
        sync_dsn, load_subject_keys(), batch_size=settings.batch_size, max_batches=REHASH_BATCHES_PER_NIGHT
    )
    return {
        "minimised": minimised,
        "retention_days": settings.retention.days,
        **counts.as_dict(),
        "subject_keys_rehashed": rehashed,
    }


def erasure_request(params: Mapping[str, Any], *, requested_by: str) -> erasure.ErasureRequest:
    """The erasure a run's params ask for (``email`` or ``customer_id``, and ``reference``).

    :param params: the DAG run's params.
    :param requested_by: the run id, recorded.
    :raises erasure.ErasureRequestError: neither or both given, or a malformed value.
    """
    customer_id = params.get("customer_id")
    return erasure.ErasureRequest(
        email=params.get("email") or None,
        customer_id=None if customer_id in (None, "") else int(customer_id),
        reference=params.get("reference") or None,
        requested_by=requested_by,
    )


def run_erasure(params: Mapping[str, Any], *, run_id: str) -> dict[str, Any]:
    """Task ``erase`` of ``symphonics_privacy_erasure``."""
    settings = PrivacySettings.from_environment()
    request = erasure_request(params, requested_by=run_id)
    result = erasure.erase(request, dsn(settings.sync_conn_id), dsn(settings.app_conn_id))
    return result.as_dict()
