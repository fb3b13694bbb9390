"""What the README and docs tell a new user matches the code: Airflow 3's trigger form, the listeners' ports, the
kill switch's values, and one way to run Airflow's CLI against `make run`'s stack in every CLI example."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from include.symphonics.core.config import ON_WORDS as KILL_SWITCH_ON_VALUES
from include.symphonics_devstack import localpg

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = {path.name: path.read_text(encoding="utf-8") for path in (ROOT / "docs").glob("*.md")}


def test_no_doc_speaks_of_airflow_2s_trigger_with_config() -> None:
    texts = {"README.md": README, **DOCS}
    texts.update({path.name: path.read_text(encoding="utf-8") for path in (ROOT / "dags").glob("*.py")})
    assert [name for name, text in texts.items() if "w/ config" in text] == []
    assert "**Trigger** button" in DOCS["PERSONAL_DATA.md"]


def test_the_readmes_listener_list_names_postgresqls_port() -> None:
    listeners = README.split("Nothing but this machine: every listener", 1)[1].split("binds", 1)[0]
    assert f"PostgreSQL for the analysts on {localpg.DEFAULT_TCP_PORT}" in listeners
    assert localpg.PG_TCP_PORT_ENV in README.split("The ports move with", 1)[1].split("\n\n", 1)[0]


def test_the_kill_switch_starts_off_with_a_value_the_readme_names() -> None:
    settings = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text(encoding="utf-8"))
    (variable,) = [v for v in settings["airflow"]["variables"] if v["variable_name"] == "symphonics_kill_switch"]
    initial = variable["variable_value"]
    assert initial.lower() not in KILL_SWITCH_ON_VALUES  # starts off
    kill_switch = README.split("- **Kill switch**", 1)[1].split("\n- ", 1)[0]
    assert f"`{initial}`" in kill_switch
    assert all(f"`{value}`" in kill_switch for value in KILL_SWITCH_ON_VALUES)


def test_every_cli_example_runs_in_a_shell_with_the_stacks_settings() -> None:
    # Every `airflow ...` example of the README follows the one way in: `. .local/airflow.env` (or make airflow).
    assert ". .local/airflow.env" in README
    assert 'make airflow ARGS="dags list"' in README
    assert "in `make run`'s shell" not in README
    cli_lines = [line for line in README.splitlines() if re.search(r"`airflow (dags|variables|backfill) ", line)]
    assert cli_lines
    assert "AIRFLOW_HOME=.local/airflow" not in README + "".join(DOCS.values())
