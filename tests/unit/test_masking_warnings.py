"""No value of ours sets off Airflow's "Skipping masking for a secret as it's too short (<5 chars)" (issue 12,
point 5). Airflow masks every Variable's value, and a missing Variable's default, and warns once per process when
one is shorter than 5 characters, whatever its name: "off" was the value behind the warning in every task."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from include.symphonics.hook import SymphonicsHook
from include.symphonics.reconcile.settings import writeback_enabled
from include.symphonics_devstack.airflow_settings import parse_settings

kill_switch_on = SymphonicsHook.read_kill_switch

PROJECT_FILE = Path(__file__).resolve().parents[2] / "airflow_settings.yaml"


def _masker_class() -> type:
    from airflow.sdk._shared.secrets_masker.secrets_masker import SecretsMasker

    return SecretsMasker


@pytest.mark.parametrize(
    ("switch", "variable", "environment"),
    [
        (kill_switch_on, "SYMPHONICS_KILL_SWITCH", None),
        (writeback_enabled, "SYMPHONICS_WRITEBACK", "SYMPHONICS_WRITEBACK"),
    ],
)
def test_an_unset_switch_is_off_and_masks_nothing_short(
    switch: Callable[[], bool], variable: str, environment: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    masker = _masker_class()
    monkeypatch.setattr(masker, "_has_warned_short_secret", False)
    monkeypatch.delenv(f"AIRFLOW_VAR_{variable}", raising=False)
    if environment:
        monkeypatch.delenv(environment, raising=False)
    assert switch() is False
    assert masker._has_warned_short_secret is False


def test_the_declared_variables_are_long_enough_not_to_warn(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SYMPHONICS_PG_HOST",
        "SYMPHONICS_PG_PORT",
        "SYMPHONICS_PG_USER",
        "SYMPHONICS_PG_PASSWORD",
        "SYMPHONICS_SYNC_USER",
        "SYMPHONICS_SYNC_PASSWORD",
    ):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("SYMPHONICS_SANDBOX_PORT", "8099")
    settings = parse_settings(PROJECT_FILE.read_text())
    assert [v.key for v in settings.variables if len(v.value) < 5] == []
    # A declared value still reads as "off".
    (kill_switch,) = [v for v in settings.variables if v.key == "symphonics_kill_switch"]
    monkeypatch.setenv("AIRFLOW_VAR_SYMPHONICS_KILL_SWITCH", kill_switch.value)
    assert kill_switch_on() is False
