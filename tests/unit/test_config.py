"""The one settings reader (``include/symphonics/core/config.py``): one flag parser whose unknown word is an error
naming the setting, numbers read one way everywhere, and a kill switch that fails closed."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.symphonics.core import config
from include.symphonics.core.config import SettingError, env_flag, env_float, env_int, env_text, parse_flag
from include.symphonics.hook import SymphonicsHook

PRODUCT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("word", ["on", "TRUE", " 1 ", "yes", True])
def test_an_on_word_is_on(word: object) -> None:
    assert parse_flag("SYMPHONICS_X", word, default=False) is True


@pytest.mark.parametrize("word", ["off", "False", "0", " no ", False])
def test_an_off_word_is_off(word: object) -> None:
    assert parse_flag("SYMPHONICS_X", word, default=True) is False


@pytest.mark.parametrize("blank", [None, "", "   "])
def test_a_blank_flag_is_its_default(blank: object) -> None:
    assert parse_flag("SYMPHONICS_X", blank, default=True) is True
    assert parse_flag("SYMPHONICS_X", blank, default=False) is False


@pytest.mark.parametrize("word", ["enabled", "stop", "disable", "of", "2"])
def test_an_unknown_word_is_an_error_naming_the_setting(word: str) -> None:
    with pytest.raises(SettingError, match="SYMPHONICS_PUBLISH_FAST_PATH") as raised:
        parse_flag("SYMPHONICS_PUBLISH_FAST_PATH", word, default=True)
    assert repr(word) in str(raised.value)


@pytest.mark.parametrize(
    ("value", "on"),
    [
        *[(None, False), ("", False), ("off", False), ("false", False), ("0", False), ("no", False)],
        *[("on", True), ("true", True), ("enabled", True), ("stop", True), ("STOP!", True), ("of", True), ("2", True)],
    ],
)
def test_the_kill_switch_counts_an_unreadable_value_as_on(value: str | None, on: bool) -> None:
    assert config.kill_switch_on("Variable symphonics_kill_switch", value) is on


@pytest.mark.parametrize(("value", "on"), [("enabled", True), ("stop", True), ("false", False), ("on", True)])
def test_the_hooks_kill_switch_fails_closed(value: str, on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW_VAR_SYMPHONICS_KILL_SWITCH", value)
    assert SymphonicsHook.read_kill_switch() is on


def test_the_fast_path_and_the_webhook_mount_refuse_a_word_they_cannot_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from include.symphonics.publish.fastpath import FAST_PATH_ENV, fast_path_enabled

    monkeypatch.setenv(FAST_PATH_ENV, "enabled")
    with pytest.raises(SettingError, match=FAST_PATH_ENV):
        fast_path_enabled()
    monkeypatch.setenv(FAST_PATH_ENV, "off")
    assert fast_path_enabled() is False
    monkeypatch.delenv(FAST_PATH_ENV)
    assert fast_path_enabled() is True
    assert env_flag("SYMPHONICS_WEBHOOKS_ON_API_SERVER", True, environ={}) is True
    with pytest.raises(SettingError, match="SYMPHONICS_WEBHOOKS_ON_API_SERVER"):
        env_flag("SYMPHONICS_WEBHOOKS_ON_API_SERVER", True, environ={"SYMPHONICS_WEBHOOKS_ON_API_SERVER": "maybe"})


def test_the_writeback_refuses_a_word_it_cannot_read(monkeypatch: pytest.MonkeyPatch) -> None:
    from include.symphonics.reconcile.settings import writeback_enabled

    monkeypatch.setenv("SYMPHONICS_WRITEBACK", "enabled")
    with pytest.raises(SettingError, match="SYMPHONICS_WRITEBACK"):
        writeback_enabled()
    monkeypatch.setenv("SYMPHONICS_WRITEBACK", "on")
    assert writeback_enabled() is True


def test_numbers_are_read_one_way() -> None:
    environ = {"A": " 12 ", "B": "1.5", "C": "ten", "D": "", "E": "0", "F": "nan"}
    assert env_int("A", 3, environ=environ) == 12
    assert env_int("D", 3, environ=environ) == 3
    assert env_float("B", 1.0, environ=environ) == 1.5
    assert env_float("missing", 2.5, environ=environ) == 2.5
    with pytest.raises(SettingError, match=r"B must be a whole number, not '1\.5'"):
        env_int("B", 3, environ=environ)
    with pytest.raises(SettingError, match="C must be a number, not 'ten'"):
        env_float("C", 1.0, environ=environ)
    with pytest.raises(SettingError, match="E must be at least 1"):
        env_int("E", 3, minimum=1, environ=environ)
    with pytest.raises(SettingError, match="F must be a finite number"):
        env_float("F", 1.0, environ=environ)
    assert env_text("A", environ=environ) == "12"
    assert env_text("D", "fallback", environ=environ) == "fallback"
    assert issubclass(SettingError, ValueError)  # the callers' ``except ValueError`` still holds


def test_the_areas_share_one_flag_parser() -> None:
    """No area writes its own list of on/off words again (the three families it replaced disagreed)."""
    written = {
        str(path.relative_to(PRODUCT))
        for folder in ("include/symphonics", "plugins", "dags")
        for path in (PRODUCT / folder).rglob("*.py")
        if path.name != "config.py" and '"off"' in path.read_text() and '"no"' in path.read_text()
    }
    assert written == set()
