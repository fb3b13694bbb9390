"""docker-compose.yaml connects each service to ``sync`` as its own least-privilege role (README, "Database roles"),
checked statically like the rest of the compose file."""

from __future__ import annotations

from pathlib import Path

import yaml

from include.symphonics.db import roles

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yaml").read_text())


def _user_of(url: str) -> str:
    return url.split("://", 1)[1].split(":", 1)[0]


def test_each_service_connects_to_sync_as_its_role() -> None:
    common = COMPOSE["x-airflow-common"]["environment"]
    receiver = COMPOSE["services"]["symphonics-webhooks"]["environment"]
    assert _user_of(receiver["SYMPHONICS_SYNC_DSN"]) == roles.SERVICE_LOGINS[roles.RECEIVER_ROLE]
    assert _user_of(common["SYMPHONICS_DASHBOARD_DSN"]) == roles.SERVICE_LOGINS[roles.DASHBOARD_ROLE]
    assert _user_of(common["AIRFLOW_CONN_SYNC_DB"]) == roles.SERVICE_LOGINS[roles.PIPELINE_ROLE]
    # No demo password: each one must be set (${VAR:?}).
    for value in (receiver["SYMPHONICS_SYNC_DSN"], common["SYMPHONICS_DASHBOARD_DSN"], common["AIRFLOW_CONN_SYNC_DB"]):
        assert ":?" in value


def test_the_init_migrates_as_the_owner_then_makes_the_logins() -> None:
    init = COMPOSE["services"]["airflow-init"]
    script = init["command"][-1]
    upgrade = script.index("include.symphonics.db --dsn postgresql://airflow:")
    logins = script.index(" logins", upgrade)
    assert upgrade < logins
    for role, variable in roles.PASSWORD_ENV.items():
        assert variable in init["environment"], role
