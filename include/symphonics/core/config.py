"""The one reader of the project's settings: ``SYMPHONICS_*`` environment variables, on/off flags, the kill switch.

Every setting is listed once in ``docs/CONFIGURATION.md``; every area reads its values through these functions, so a
number, a flag or a blank is parsed one way everywhere. A value that cannot be read is an error naming the setting,
never a silent default, with one exception that fails the other way on purpose: the kill switch, which counts an
unreadable value as on (a typo must stop the calls, not let them through).

Ground floor: imports nothing above it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

#: The words an on/off setting accepts (case and surrounding blanks ignored).
ON_WORDS = frozenset({"on", "true", "1", "yes"})
OFF_WORDS = frozenset({"off", "false", "0", "no"})


#: Settings read by more than one area.
ALERT_CONN_ENV = "SYMPHONICS_ALERT_CONN_ID"  # an Airflow connection alerts are also sent to (reconcile, watchdog)


class SettingError(ValueError):
    """A setting holds a value that cannot be read; the message names the setting."""


def _raw(name: str, environ: Mapping[str, str] | None) -> str:
    return (os.environ if environ is None else environ).get(name, "").strip()


def parse_flag(name: str, value: object, default: bool) -> bool:
    """An on/off value: one of :data:`ON_WORDS` or :data:`OFF_WORDS`, a bool, or blank/None for ``default``.

    :param name: the setting, for the error message.
    :param value: what the setting holds.
    :param default: the answer when nothing is set.
    :raises SettingError: any other word (``enabled``, ``stop``...): guessing would turn a typo into its opposite.
    """
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if not text:
        return default
    if text in ON_WORDS:
        return True
    if text in OFF_WORDS:
        return False
    raise SettingError(f"{name} must be one of {', '.join(sorted(ON_WORDS | OFF_WORDS))}, not {value!r}")


def kill_switch_on(name: str, value: object) -> bool:
    """Whether a kill switch holding ``value`` stops the calls: off when unset or an off word, on otherwise.

    Fails closed: an on word, and any word that is neither (``enabled``, ``stop``, a typo), stops the calls.

    :param name: the setting (unused in the answer; kept so every reader names what it reads).
    :param value: what the switch holds (None or blank: never set).
    """
    try:
        return parse_flag(name, value, default=False)
    except SettingError:
        return True


def env_flag(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    """The on/off environment variable ``name`` (see :func:`parse_flag`).

    :param name: the variable.
    :param default: the answer when it is unset or blank.
    :param environ: the variables to read (default: ``os.environ``).
    :raises SettingError: a word that is neither on nor off.
    """
    return parse_flag(name, _raw(name, environ), default)


def env_int(
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    unit: str = "",
    environ: Mapping[str, str] | None = None,
) -> int:
    """The whole-number environment variable ``name``, ``default`` when unset or blank.

    :param name: the variable.
    :param default: the answer when it is unset or blank.
    :param minimum: the smallest value accepted, if any.
    :param unit: what the number counts (``minutes``), for the error message.
    :param environ: the variables to read (default: ``os.environ``).
    :raises SettingError: not a whole number, or below ``minimum``.
    """
    raw = _raw(name, environ)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name} must be a whole number{f' of {unit}' if unit else ''}, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingError(f"{name} must be at least {minimum}{f' {unit}' if unit else ''} (got {value})")
    return value


def env_float(
    name: str, default: float, *, minimum: float | None = None, environ: Mapping[str, str] | None = None
) -> float:
    """The numeric environment variable ``name``, ``default`` when unset or blank.

    :param name: the variable.
    :param default: the answer when it is unset or blank.
    :param minimum: the smallest value accepted, if any.
    :param environ: the variables to read (default: ``os.environ``).
    :raises SettingError: not a finite number, or below ``minimum``.
    """
    raw = _raw(name, environ)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name} must be a number, not {raw!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingError(f"{name} must be a finite number, not {raw!r}")
    if minimum is not None and value < minimum:
        raise SettingError(f"{name} must be at least {minimum:g} (got {value:g})")
    return value


def env_text(name: str, default: str | None = None, environ: Mapping[str, str] | None = None) -> str | None:
    """The environment variable ``name`` without surrounding blanks, ``default`` when unset or blank.

    :param name: the variable.
    :param default: the answer when it is unset or blank.
    :param environ: the variables to read (default: ``os.environ``).
    """
    return _raw(name, environ) or default
