"""The DAGs' params: declared strictly for the trigger form and the REST API, and checked again when a run starts.

Airflow validates a run's conf against each param's JSON schema, but not every keyword (``format: date-time`` is
only a hint to the UI form without an RFC 3339 checker installed), and a DAG can be run with other params (a
backfill, ``dag.test()``). So the first task of a run checks them here; a bad param is a deterministic error: the
run fails at once, without retries, with a message that names the param.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NoReturn

#: The most external ids one run accepts (each is one partner check; a list is a repair, not a backfill).
MAX_EXTERNAL_IDS = 500
#: The longest external id accepted (the app's ids are far shorter).
MAX_EXTERNAL_ID_LENGTH = 100

#: The ``schema`` of each param, as the trigger form and ``POST /api/v2/dags/{dag_id}/dagRuns`` see it.
EXTERNAL_IDS_SCHEMA: dict[str, Any] = {
    "type": ["array", "null"],
    "items": {"type": "string", "minLength": 1, "maxLength": MAX_EXTERNAL_ID_LENGTH},
    "maxItems": MAX_EXTERNAL_IDS,
    "uniqueItems": True,
}
INSTANT_SCHEMA: dict[str, Any] = {"type": ["null", "string"], "format": "date-time"}
DATE_SCHEMA: dict[str, Any] = {"type": ["null", "string"], "format": "date"}

EXTERNAL_IDS_DESCRIPTION = (
    "Check these interventions again now (external ids, one per line): re-extracted from the app and "
    "re-validated; each is sent only if it is not yet at the partner or changed since it was sent. The run works "
    "on these rows only: the backlog waits for the next run. Ids the app does not have are listed in the run "
    f"summary. At most {MAX_EXTERNAL_IDS}."
)
FROM_DESCRIPTION = (
    "Re-extract the interventions updated from this instant (ISO 8601 date-time, e.g. 2026-11-01T00:00:00Z; "
    "a date means its midnight UTC). Rows unchanged since they were sent are not sent again."
)
TO_DESCRIPTION = "... up to this instant, inclusive (ISO 8601 date-time; not before 'from'). Empty: up to now."
DRY_RUN_DESCRIPTION = "Extract and validate, but create and PATCH nothing at the partner; the log says what would be."
FORCE_DESCRIPTION = (
    "Check rows again even when their source did not change (fingerprint ignored); still never sends a "
    "published, unchanged intervention twice."
)
SNAPSHOT_DATE_DESCRIPTION = (
    "Build the snapshot of this date (YYYY-MM-DD: its state at 02:00 Paris time). Empty: the run's logical "
    "date, or for a run without one, the last 02:00 before the run started."
)


class InvalidParam(ValueError):
    """A param a run cannot use: its name and why."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"param {name!r}: {reason}")
        self.name = name
        self.reason = reason


@dataclass(frozen=True)
class PublishParams:
    """A publish run's params, checked.

    :param from_at: re-extract from this instant (None: incremental, or a backfill's range).
    :param to_at: up to this instant (None: no upper bound).
    :param external_ids: check these again (deduplicated, in the order given).
    :param dry_run: send nothing.
    :param force: ignore the source fingerprint.
    """

    from_at: datetime | None = None
    to_at: datetime | None = None
    external_ids: tuple[str, ...] = ()
    dry_run: bool = False
    force: bool = False

    def as_dict(self) -> dict[str, Any]:
        """For XCom and the log."""
        return {
            "from": None if self.from_at is None else self.from_at.isoformat(),
            "to": None if self.to_at is None else self.to_at.isoformat(),
            "external_ids": list(self.external_ids),
            "dry_run": self.dry_run,
            "force": self.force,
        }


def parse_instant(name: str, value: Any) -> datetime | None:
    """An ISO 8601 date-time (or a date: its midnight UTC) as an aware datetime; None for null or empty.

    :param name: the param's name, for the message.
    :param value: the param's value.
    :raises InvalidParam: for anything else (a duration such as ``P1D``, an interval, a number, free text).
    """
    import pendulum

    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else pendulum.instance(value, tz="UTC")
    if not isinstance(value, str):
        _refuse(name, f"expected an ISO 8601 date-time string, got {type(value).__name__} {value!r}")
    text = value.strip()
    try:
        parsed = pendulum.parse(text, exact=True, tz="UTC")
    except (ValueError, TypeError, OverflowError) as exc:
        _refuse(name, f"{text!r} is not an ISO 8601 date-time ({exc})")
    if isinstance(parsed, datetime):
        return parsed
    if isinstance(parsed, date):
        return pendulum.datetime(parsed.year, parsed.month, parsed.day, tz="UTC")
    _refuse(
        name,
        f"{text!r} is not an instant but a {type(parsed).__name__.lower()}: give a date-time such as "
        "2026-11-01T00:00:00Z",
    )


def parse_external_ids(name: str, value: Any) -> tuple[str, ...]:
    """The external ids of a list of non-empty strings, deduplicated in order; () for null or empty.

    :param name: the param's name, for the message.
    :param value: the param's value.
    :raises InvalidParam: for a list holding anything but strings (numbers, null, objects, booleans are not
        turned into text), an empty or over-long id, or more than :data:`MAX_EXTERNAL_IDS` ids.
    """
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        _refuse(name, f"expected a list of external ids (strings), got {type(value).__name__}")
    ids: list[str] = []
    for position, item in enumerate(value):
        if not isinstance(item, str):
            _refuse(name, f"item {position} is {type(item).__name__} {item!r}, not a string")
        text = item.strip()
        if not text:
            _refuse(name, f"item {position} is empty")
        if len(text) > MAX_EXTERNAL_ID_LENGTH:
            _refuse(name, f"item {position} is longer than {MAX_EXTERNAL_ID_LENGTH} characters")
        if text not in ids:
            ids.append(text)
    if len(ids) > MAX_EXTERNAL_IDS:
        _refuse(name, f"{len(ids)} ids, at most {MAX_EXTERNAL_IDS} per run")
    return tuple(ids)


def _flag(name: str, value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        _refuse(name, f"expected true or false, got {type(value).__name__} {value!r}")
    return value


def publish_params(params: Mapping[str, Any]) -> PublishParams:
    """Check a publish run's params.

    :param params: the run's params (``external_ids``, ``from``, ``to``, ``dry_run``, ``force``).
    :raises InvalidParam: naming the first bad param; ``from`` after ``to`` names both.
    """
    from_at = parse_instant("from", params.get("from"))
    to_at = parse_instant("to", params.get("to"))
    if from_at is not None and to_at is not None and from_at > to_at:
        _refuse("from", f"{from_at.isoformat()} is after 'to' ({to_at.isoformat()}): nothing would be extracted")
    return PublishParams(
        from_at=from_at,
        to_at=to_at,
        external_ids=parse_external_ids("external_ids", params.get("external_ids")),
        dry_run=_flag("dry_run", params.get("dry_run")),
        force=_flag("force", params.get("force")),
    )


def snapshot_date_param(params: Mapping[str, Any]) -> str | None:
    """A reconcile run's ``snapshot_date``: an ISO date (or date-time) as given, None when empty.

    :param params: the run's params.
    :raises InvalidParam: when it is not an ISO 8601 date or date-time.
    """
    value = params.get("snapshot_date")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        _refuse("snapshot_date", f"expected a date such as 2026-11-01, got {type(value).__name__} {value!r}")
    parse_instant("snapshot_date", value)
    return value.strip()


def check_conf_keys(conf: Mapping[str, Any] | None, declared: Iterable[str]) -> None:
    """Refuse a run's conf that holds a key the DAG does not declare.

    Airflow merges every conf key into the params without a word, so a typo (``"dryrun": true``) would run for
    real with the default (sending creates to the partner): a key nobody reads is refused, not ignored.

    :param conf: the run's conf (``dag_run.conf``; None or empty: nothing to check).
    :param declared: the DAG's params.
    :raises InvalidParam: naming every unknown key, with the closest declared param when one is close.
    """
    known = sorted(declared)
    unknown = sorted(key for key in (conf or {}) if key not in known)
    if not unknown:
        return
    hints = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=1)
        if close:
            hints.append(f"{key!r}: did you mean {close[0]!r}?")
    accepted = ", ".join(repr(name) for name in known) if known else "none"
    _refuse(
        ", ".join(unknown),
        f"unknown param{'s' if len(unknown) > 1 else ''} of this DAG, nothing was run "
        f"({' '.join(hints) + ' ' if hints else ''}its params: {accepted})",
    )


def fail_run_on_unknown_conf(context: Mapping[str, Any]) -> None:
    """:func:`check_conf_keys` for a running task, an :class:`InvalidParam` turned into a fail-at-once error.

    Called first by the first task of every DAG, before anything else reads a param or does any work.

    :param context: the task's context (its ``dag_run.conf`` and its DAG's declared ``params``).
    """
    fail_run_on_invalid(
        lambda _params: check_conf_keys(context["dag_run"].conf, context["dag"].params.keys()), context["params"]
    )


def fail_run_on_invalid(check: Any, params: Mapping[str, Any]) -> Any:
    """``check(params)``, an :class:`InvalidParam` turned into Airflow's fail-at-once exception (no retry).

    :param check: one of this module's checks.
    :param params: the run's params.
    """
    from airflow.sdk.exceptions import AirflowFailException

    try:
        return check(params)
    except InvalidParam as exc:
        raise AirflowFailException(str(exc)) from exc


def _refuse(name: str, reason: str) -> NoReturn:
    raise InvalidParam(name, reason)
