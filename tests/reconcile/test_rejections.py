"""One meaning of "rejected": on the demo data set, ``analytics.rejections`` and the dashboard's rejection panel
both hold every refusal the demo generator's expectations know of (issue 12, point 8)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from include.symphonics.dashboard import queries
from include.symphonics.dashboard.settings import QuotaLimits
from include.symphonics_demo import ExpectedState
from include.symphonics_demo.expectations import Reason
from tests.publish.conftest import PublishWorld
from tests.reconcile.test_reconcile_dag import reconciled  # noqa: F401 (the fixture)

pytestmark = pytest.mark.integration


def test_the_view_and_the_dashboard_count_every_refusal_of_the_demo(
    reconciled: tuple[PublishWorld, Any, set[str]],  # noqa: F811 (the fixture)
) -> None:
    world, _, _ = reconciled
    expected = world.expected
    validation = expected.state_counts[ExpectedState.REJECTED_VALIDATION]
    by_our_threshold = expected.reason_counts[Reason.PDL_LOOKUP_LOW_CONFIDENCE]
    files = len(expected.partner_rejects_later)
    assert validation > 0
    assert by_our_threshold > 0
    assert files > 0

    now = datetime.now(UTC)
    with psycopg.connect(world.sync_dsn, row_factory=dict_row) as conn:
        rows = conn.execute(
            "SELECT * FROM analytics.rejections WHERE rejected_at >= %s", (now - timedelta(days=7),)
        ).fetchall()
    kinds = Counter((row["rejection_kind"], row["decided_by"]) for row in rows)
    assert kinds == {
        ("validation", "partner"): validation - by_our_threshold,
        ("validation", "sync"): by_our_threshold,
        ("intervention", "partner"): files,
    }
    # Each refusal once, with its time, kind, reason and the partner's message.
    validation_rows = [row for row in rows if row["rejection_kind"] == "validation"]
    assert len({row["external_id"] for row in validation_rows}) == validation
    assert {row["external_id"] for row in validation_rows} == set(
        expected.external_ids_in(ExpectedState.REJECTED_VALIDATION)
    )
    assert all(row["rejected_at"] and row["reason"] and row["partner_message"] for row in rows)
    assert {row["reason"] for row in validation_rows} == {
        reason.value
        for reason in (
            Reason.PDL_INVALID,
            Reason.PDL_LOOKUP_LOW_CONFIDENCE,
            Reason.INSTALLER_UNKNOWN,
            Reason.INSTALLER_INACTIVE,
        )
        if expected.reason_counts[reason]
    }
    assert all("photos" in row["partner_message"] for row in rows if row["rejection_kind"] == "intervention")

    with psycopg.connect(world.sync_dsn, autocommit=True) as conn:
        panel = queries.collect(conn, QuotaLimits(), now)["panels"]["rejections"]
    assert panel["refusals"] == len(rows) == validation + files
    assert sum(int(row["refusals"]) for row in panel["refusals_by_kind"]) == len(rows)
