"""docs/ANALYTICS.md: its ready queries run as the analysts' role, and "waits for ops" is the code's one definition."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from include.symphonics.core.states import OPS_STATES
from include.symphonics.db import roles
from tests.fixtures.roles import as_login, login_in

ANALYTICS = Path(__file__).resolve().parents[2] / "docs" / "ANALYTICS.md"


def _queries() -> list[str]:
    """The ready queries (blocks that are one query; the doc's other sql blocks are psql sessions and set-ups)."""
    blocks = re.findall(r"```sql\n(.*?)```", ANALYTICS.read_text(encoding="utf-8"), flags=re.DOTALL)
    return [block for block in blocks if block.lstrip().upper().startswith(("SELECT", "WITH"))]


def test_the_waiting_for_ops_query_lists_the_codes_ops_states() -> None:
    text = ANALYTICS.read_text(encoding="utf-8")
    (query,) = [q for q in _queries() if "ledger_state IN" in q and "ORDER BY app_updated_at" in q]
    listed = set(re.findall(r"'([a-z_]+)'", query.split("ledger_state IN", 1)[1].split(")", 1)[0]))
    assert listed == {state.value for state in OPS_STATES}
    definition = text.split("### Waits for ops", 1)[1].split("###", 1)[0]
    assert set(re.findall(r"`([a-z_]+)`", definition)) >= {state.value for state in OPS_STATES}
    assert "OPS_STATES" in definition


def test_the_ready_queries_include_published_per_day_and_waiting_for_ops() -> None:
    text = ANALYTICS.read_text(encoding="utf-8")
    assert "Published per day" in text
    assert "Waiting for ops now" in text


@pytest.mark.parametrize("query", _queries(), ids=lambda q: q.split("\n", 1)[0][:60])
def test_every_ready_query_runs_as_the_analyst(stack: Any, sync_dsn: str, query: str) -> None:
    with (
        login_in(stack.server, roles.ANALYST_ROLE) as (login, password),
        psycopg.connect(as_login(sync_dsn, login, password)) as conn,
    ):
        conn.execute(query)
