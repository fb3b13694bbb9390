"""The refusal ledger and the per-source limiter on their own: counts per minute, reason and source, a bounded
sample, one WARNING per reason and source and minute (then one with the count), and the limiter's window."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from include.symphonics.webhooks.refusals import MAX_SOURCES_PER_MINUTE, OTHER_SOURCES, RefusalLedger, SourceLimiter
from include.symphonics.webhooks.store import Rejection
from tests.webhooks.conftest import rows

START = datetime(2026, 11, 28, 10, 0, 5, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self, now: Any) -> None:
        self.now = now

    def __call__(self) -> Any:
        return self.now


def refusal(at: datetime, reason: str = "bad_signature", source: str = "198.51.100.7", number: int = 0) -> Rejection:
    return Rejection(
        received_at=at,
        request_id=f"whk_{number:016d}",
        reason=reason,
        status_code=401,
        remote_addr=source,
        body_size=100,
        content_type="application/json",
        user_agent="flood/1.0",
    )


def ledger(dsn: str, clock: Clock, **limits: int) -> RefusalLedger:
    return RefusalLedger(
        lambda: psycopg.connect(dsn, autocommit=True),
        samples_per_source=limits.get("samples_per_source", 3),
        samples_per_minute=limits.get("samples_per_minute", 100),
        clock=clock,
    )


def test_one_row_per_minute_reason_and_source_and_a_bounded_sample(
    webhook_db: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(START)
    refusals = ledger(webhook_db, clock)
    with caplog.at_level(logging.WARNING, logger="include.symphonics.webhooks.refusals"):
        for number in range(500):
            refusals.add(refusal(START + timedelta(milliseconds=number), number=number))
        refusals.add(refusal(START, reason="missing_signature"))
        assert refusals.flush() == 501
        for number in range(200):  # the same minute, after a first write: added to the same row
            refusals.add(refusal(START + timedelta(seconds=30), number=1000 + number))
        clock.now = START + timedelta(minutes=1)
        assert refusals.flush() == 200
        assert refusals.flush() == 0
    counts = rows(webhook_db, "SELECT * FROM symphonics.webhook_refusals ORDER BY reason")
    assert [(row["reason"], row["remote_addr"], row["requests"]) for row in counts] == [
        ("bad_signature", "198.51.100.7", 700),
        ("missing_signature", "198.51.100.7", 1),
    ]
    assert counts[0]["minute"] == START.replace(second=0)
    assert counts[0]["body_bytes"] == 70_000
    samples = rows(webhook_db, "SELECT * FROM symphonics.webhook_rejections")
    assert sorted(row["reason"] for row in samples) == ["bad_signature"] * 3 + ["missing_signature"]
    first_lines = [r for r in caplog.records if "rejected:" in r.getMessage()]
    count_lines = [r for r in caplog.records if "request(s) refused" in r.getMessage()]
    assert len(first_lines) == 2  # once per reason and source in the minute
    assert [r.getMessage().split()[2] for r in count_lines] == ["700"]  # then once with the minute's count


def test_samples_per_minute_and_sources_told_apart_are_bounded(webhook_db: str) -> None:
    clock = Clock(START)
    refusals = ledger(webhook_db, clock, samples_per_minute=10)
    for number in range(MAX_SOURCES_PER_MINUTE + 50):
        refusals.add(refusal(START, source=f"10.0.{number // 256}.{number % 256}", number=number))
    clock.now = START + timedelta(minutes=1)
    refusals.close()
    counts = rows(webhook_db, "SELECT remote_addr, requests FROM symphonics.webhook_refusals")
    assert len(counts) == MAX_SOURCES_PER_MINUTE + 1
    assert {row["remote_addr"]: row["requests"] for row in counts}[OTHER_SOURCES] == 50
    assert len(rows(webhook_db, "SELECT id FROM symphonics.webhook_rejections")) == 10


def test_a_failed_write_keeps_the_counts_for_the_next_flush(webhook_db: str) -> None:
    clock = Clock(START)
    broken = webhook_db.rsplit("/", 1)[0] + "/no_such_database_here"
    targets = [broken, webhook_db]
    refusals = RefusalLedger(
        lambda: psycopg.connect(targets.pop(0), autocommit=True),
        samples_per_source=1,
        samples_per_minute=10,
        clock=clock,
    )
    for number in range(7):
        refusals.add(refusal(START, number=number))
    assert refusals.flush() == 0
    assert refusals.pending() == 7
    assert refusals.flush() == 7
    assert rows(webhook_db, "SELECT requests FROM symphonics.webhook_refusals") == [{"requests": 7}]


def test_the_limiter_answers_after_the_limit_until_the_window_ends() -> None:
    clock = Clock(100.0)
    limiter = SourceLimiter(3, 60.0, max_sources=2, clock=clock)
    for _ in range(3):
        assert limiter.retry_after("a") is None
        limiter.count("a")
    assert limiter.retry_after("a") == 60
    assert limiter.retry_after("b") is None  # per source
    clock.now = 130.5
    assert limiter.retry_after("a") == 30
    clock.now = 160.0
    assert limiter.retry_after("a") is None  # a new window
    limiter.count("a")
    limiter.count("b")
    limiter.count("c")  # a third source: the least recently refused ("a") is forgotten
    assert limiter.retry_after("a") is None
