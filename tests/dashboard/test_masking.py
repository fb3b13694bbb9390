"""The dashboard shows free text (the partner's notes, a state's detail) through the analysts' masking function:
no phone number, e-mail or PDL in clear, read as the dashboard's role."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from fastapi.testclient import TestClient

from include.symphonics.dashboard import create_dashboard_app
from include.symphonics.dashboard.settings import QuotaLimits
from include.symphonics.db import migrate, roles
from tests.fixtures.roles import as_login, login_in
from tests.fixtures.stack import TestStack

pytestmark = pytest.mark.integration

NOTE = "Rappeler le client au 06 12 34 56 78 (ou +33 6 12 34 56 79, 0033612345680), jeanne.dupont@example.fr"


def test_the_timeline_masks_phone_numbers_in_notes_and_details(
    stack: TestStack, make_scratch_database: Callable[[], str]
) -> None:
    url = make_scratch_database()
    migrate.upgrade(url)
    with psycopg.connect(url) as conn:
        conn.execute(
            "INSERT INTO symphonics.interventions_ledger (external_id, app_intervention_id, app_status,"
            " app_updated_at, source, source_fingerprint, state, state_reason, state_detail, attempts)"
            " VALUES ('int_note', 1, 'completed', now(), '{}'::jsonb, 'fp', 'rejected_validation', 'partner_refused',"
            " %s, 1)",
            (NOTE,),
        )
        conn.execute(
            "INSERT INTO symphonics.status_history (external_id, symphonics_id, from_status, to_status, source,"
            " notes, occurred_at) VALUES ('int_note', 'sym_1', 'submitted', 'rejected', 'webhook', %s, now())",
            (NOTE,),
        )
    with login_in(stack.server, roles.DASHBOARD_ROLE) as (login, password):
        app = create_dashboard_app(
            dsn=as_login(url, login, password),
            limits=QuotaLimits(client_id="x", source="tests"),
            login=lambda: {"username": "ops"},
        )
        story = TestClient(app).get("/api/timeline", params={"external_id": "int_note"})

    assert story.status_code == 200, story.text
    notes = [event["detail"]["notes"] for event in story.json()["events"] if "notes" in event["detail"]]
    assert notes
    for text in (*notes, story.json()["current"]["state_detail"]):
        for clear in ("06 12 34 56 78", "6 12 34 56 79", "612345680", "jeanne.dupont"):
            assert clear not in text, text
        assert "******78" in text
