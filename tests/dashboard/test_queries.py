"""The dashboard's figures against a ``sync`` database seeded with known rows (see ``conftest.py``)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import psycopg
import pytest

from include.symphonics.dashboard import queries
from include.symphonics.dashboard.settings import QuotaLimits
from tests.dashboard.conftest import CLIENT_ID, LONG_PARTNER_REASON, Seeded, limits_for


def percentile_cont(values: list[float], fraction: float) -> float:
    """PostgreSQL's ``percentile_cont`` (linear interpolation), written independently of the SQL."""
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@pytest.fixture
def conn(seeded: Seeded) -> Iterator[psycopg.Connection]:
    with psycopg.connect(seeded.url, autocommit=True) as connection:
        yield connection


def test_quota_counts_today_and_last_minute_per_class(conn: psycopg.Connection, seeded: Seeded) -> None:
    panel = queries.quota_panel(conn, seeded.limits, seeded.now)

    classes = {item["name"]: item for item in panel["classes"]}
    assert panel["status"] == "ok"
    # 20 answered + 6 unavailable attempts today, and another client id's call (every client id is counted, as
    # analytics.quota_daily counts them: issue 25); yesterday's call is not.
    assert {name: item["used_today"] for name, item in classes.items()} == {"publish": 27, "reconcile": 5, "ops": 1}
    assert {name: item["last_minute"] for name, item in classes.items()} == {"publish": 9, "reconcile": 0, "ops": 1}
    assert (panel["day_used"], panel["day_limit"], panel["last_minute"], panel["minute_limit"]) == (33, 5000, 10, 100)
    assert {name: item["cap"] for name, item in classes.items()} == {"publish": 3750, "reconcile": 2000, "ops": 500}
    assert len(panel["per_minute"]) == queries.QUOTA_MINUTES
    assert sum(minute["publish"] for minute in panel["per_minute"]) == 27
    assert sum(minute["reconcile"] for minute in panel["per_minute"]) == 5


def test_quota_of_every_client_id_without_a_configured_one(conn: psycopg.Connection, seeded: Seeded) -> None:
    panel = queries.quota_panel(conn, replace(seeded.limits, client_id=None), seeded.now)

    assert panel["day_used"] == 33


def test_backlog_per_state_with_an_eta_at_the_observed_cost_per_row(conn: psycopg.Connection, seeded: Seeded) -> None:
    quota = queries.quota_panel(conn, seeded.limits, seeded.now)
    panel = queries.backlog_panel(conn, seeded.limits, seeded.now, queries.present_tables(conn), quota)

    states = {item["state"]: item["rows"] for item in panel["states"]}
    assert states["pending"] == 7
    assert states["published"] == 10
    assert states["dead_letter"] == 1
    assert panel["total"] == 33
    assert panel["backlog"] == 12
    assert panel["backlog_states"] == {"pending": 7, "prevalidated": 0, "ready": 3, "sending": 0, "failed_retryable": 2}
    # The two real runs spent 48 requests on 16 settled rows (the dry run is left out): 3 per row.
    assert panel["calls_per_row"] == 3.0
    # 36 requests fit in today's publish allowance, at 100 per minute.
    assert panel["eta"] == seeded.now + timedelta(minutes=36 / 100)


def test_backlog_eta_spills_over_whole_days_of_the_class_cap(seeded: Seeded) -> None:
    limits = QuotaLimits(requests_per_minute=10, requests_per_day=100, shares={"publish": 0.5})
    now = seeded.now
    next_day = limits.day_start(now) + timedelta(days=1)

    # Cap 50 a day, 40 already spent: 10 today, then 50 + 50, then 5 on the third day.
    assert queries.backlog_eta(115, 1.0, limits, 40, 40, now) == next_day + timedelta(days=2, minutes=0.5)
    assert queries.backlog_eta(60, 1.0, limits, 40, 40, now) == next_day + timedelta(minutes=5)
    assert queries.backlog_eta(0, 1.0, limits, 40, 40, now) == now
    assert queries.backlog_eta(5, 1.0, replace(limits, shares={"publish": 0.0}), 0, 0, now) is None


def test_last_runs_newest_first(conn: psycopg.Connection) -> None:
    panel = queries.runs_panel(conn)

    assert [run["run_id"] for run in panel["runs"]] == ["manual__dry", "manual__b", "manual__a"]
    assert panel["runs"][1]["published"] == 4
    assert panel["runs"][1]["dead_letter"] == 1
    assert panel["runs"][1]["duration_seconds"] == 180.0


def test_top_rejection_reasons(conn: psycopg.Connection) -> None:
    panel = queries.rejections_panel(conn)

    assert [(r["reason"], r["rows"], r["invalid"], r["rejected_validation"]) for r in panel["reasons"]] == [
        ("invalid_email", 4, 3, 1),
        ("partner_refused", 2, 0, 2),
        ("invalid_pce", 1, 1, 0),
    ]


def test_rows_waiting_for_ops_longest_waiting_first(conn: psycopg.Connection) -> None:
    panel = queries.ops_queue_panel(conn)

    assert panel["counts"] == {"changed_after_publish": 1, "conflict_unresolved": 2, "dead_letter": 1}
    assert [row["state"] for row in panel["rows"]] == [
        "dead_letter",
        "changed_after_publish",
        "conflict_unresolved",
        "conflict_unresolved",
    ]
    assert panel["rows"][0]["last_error_code"] == "SERVICE_UNAVAILABLE"
    assert all(row["external_id"].startswith("int_") for row in panel["rows"])


def test_webhook_health_over_the_last_24_hours(conn: psycopg.Connection, seeded: Seeded) -> None:
    panel = queries.webhooks_panel(conn, seeded.now)

    assert (panel["accepted"], panel["late"], panel["refused"]) == (6, 2, 4)
    assert (panel["unknown_event"], panel["unprocessed"]) == (1, 3)
    assert [(r["reason"], r["requests"], r["refused"]) for r in panel["rejections"]] == [
        ("bad_signature", 3, 3),
        ("stale", 2, 0),
        ("too_large", 1, 1),
    ]
    assert len(panel["hourly"]) == queries.WINDOW_HOURS
    assert sum(hour["accepted"] for hour in panel["hourly"]) == 6
    assert sum(hour["late"] for hour in panel["hourly"]) == 2
    assert sum(hour["refused"] for hour in panel["hourly"]) == 4


def test_partner_latency_percentiles(conn: psycopg.Connection, seeded: Seeded) -> None:
    panel = queries.latency_panel(conn, seeded.limits, seeded.now)

    since = seeded.now.replace(minute=0, second=0) - timedelta(hours=queries.WINDOW_HOURS - 1)
    mine = [c for c in seeded.calls if c["client_id"] == CLIENT_ID and c["called_at"] > since]
    replies = [c["latency_ms"] for c in mine if c["status"] is not None]
    creates = [c["latency_ms"] for c in mine if c["status"] is not None and c["operation"] == "create_intervention"]
    assert panel["calls"] == len(replies) == 30
    assert panel["p50_ms"] == round(percentile_cont(replies, 0.5), 1)
    assert panel["p95_ms"] == round(percentile_cont(replies, 0.95), 1)
    assert panel["unavailable"] == 6
    operations = {item["operation"]: item for item in panel["operations"]}
    assert operations["create_intervention"]["calls"] == 24
    assert operations["create_intervention"]["p95_ms"] == round(percentile_cont(creates, 0.95), 1)
    assert operations["get_intervention"]["p50_ms"] == 50.0


def test_breaker_state_from_the_unavailable_streak(conn: psycopg.Connection, seeded: Seeded) -> None:
    closed = queries.breaker_panel(conn, seeded.limits, seeded.now)
    assert (closed["state"], closed["failed_calls"], closed["failed_attempts"]) == ("closed", 3, 6)
    assert closed["last_answer_at"] == seeded.now - timedelta(seconds=10)

    tripping = limits_for(seeded.now, breaker_failures=3, breaker_reset=60.0)
    opened = queries.breaker_panel(conn, tripping, seeded.now)
    assert opened["state"] == "open"
    assert opened["open_until"] == seeded.now - timedelta(seconds=4) + timedelta(seconds=60)
    assert queries.breaker_panel(conn, tripping, seeded.now + timedelta(minutes=2))["state"] == "half-open"


def test_freshness_shows_the_watcher_and_completed_to_created_latency(conn: psycopg.Connection, seeded: Seeded) -> None:
    panel = queries.freshness_panel(conn, seeded.now)

    assert panel["status"] == "ok"
    assert panel["publishes"] == 3
    assert panel["p50_s"] == pytest.approx(8.0)
    assert panel["p95_s"] == pytest.approx(11.6)
    (watcher,) = panel["watchers"]
    assert watcher["watcher"] == "symphonics_completions"
    assert watcher["last_probe_at"] == seeded.now - timedelta(seconds=2)
    assert watcher["mean_probe_ms"] == pytest.approx(0.8)
    # Out of the 24 h window, the creates no longer count.
    later = queries.freshness_panel(conn, seeded.now + timedelta(days=1))
    assert later["publishes"] == 0


def test_old_completions_published_now_are_a_backlog_not_latency(seeded_for_ui: Seeded) -> None:
    with psycopg.connect(seeded_for_ui.url, autocommit=True) as connection:
        panel = queries.freshness_panel(connection, seeded_for_ui.now)
        published_now = connection.execute(
            "SELECT count(*) FROM symphonics.interventions_ledger WHERE published_at >= %s",
            (seeded_for_ui.now - timedelta(hours=24),),
        ).fetchone()

    # Six creates in the window, three of them completed 400 days ago: only the three recent completions count.
    assert published_now == (6,)
    assert panel["publishes"] == 3
    assert panel["p50_s"] == pytest.approx(8.0)
    assert panel["p95_s"] == pytest.approx(11.6)


def test_a_rejected_file_is_counted_as_a_file_not_local_nor_partner_validation(seeded_for_ui: Seeded) -> None:
    with psycopg.connect(seeded_for_ui.url, autocommit=True) as connection:
        panel = queries.rejections_panel(connection, seeded_for_ui.now)

    (file,) = [r for r in panel["reasons"] if r["reason"] == LONG_PARTNER_REASON]
    assert (file["rows"], file["invalid"], file["rejected_validation"], file["rejected_files"]) == (1, 0, 0, 1)
    assert panel["refusals"] == 4


def test_alerts_open_episodes_first_then_the_recent_ones(conn: psycopg.Connection, seeded: Seeded) -> None:
    panel = queries.alerts_panel(conn, seeded.now)

    assert panel["status"] == "ok"
    assert (panel["open"], panel["open_critical"], panel["raised_in_window"]) == (1, 1, 3)
    listed = [(a["kind"], a["open"], a["resolved_at"] is not None, a["sent_to"]) for a in panel["alerts"]]
    assert listed == [
        ("partner_unavailable", True, False, ["symphonics_alerts"]),
        ("failed_run", False, False, []),
        ("dead_letter_added", False, True, ["symphonics_alerts"]),
    ]  # the 10-day-old alert is out of the window


def test_collect_is_one_json_document(conn: psycopg.Connection, seeded: Seeded) -> None:
    document = queries.collect(conn, seeded.limits, seeded.now)

    assert {name: panel["status"] for name, panel in document["panels"].items()} == dict.fromkeys(
        queries.PANEL_TABLES, "ok"
    )
    assert document["generated_at"] == seeded.now.isoformat().replace("+00:00", "Z")
    assert document["limits"]["source"] == "tests"


def test_every_panel_says_no_data_on_an_empty_database(empty_db: str, seeded: Seeded) -> None:
    with psycopg.connect(empty_db, autocommit=True) as conn:
        document = queries.collect(conn, seeded.limits, seeded.now)

    assert {name: panel["status"] for name, panel in document["panels"].items()} == dict.fromkeys(
        queries.PANEL_TABLES, "no_data"
    )
    assert document["panels"]["breaker"]["state"] == "closed"


def test_panels_of_tables_not_created_yet_say_no_data(early_db: str, seeded: Seeded) -> None:
    with psycopg.connect(early_db, autocommit=True) as conn:
        document = queries.collect(conn, seeded.limits, seeded.now)

    panels = document["panels"]
    assert all(panel["status"] == "no_data" for panel in panels.values())
    assert "symphonics.interventions_ledger is not created" in panels["backlog"]["message"]
    assert "symphonics.webhook_events is not created" in panels["webhooks"]["message"]
    assert "symphonics.publish_runs is not created" in panels["runs"]["message"]
