"""The DAGs' params are checked before anything runs: every bad value is refused with the param's name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from include.symphonics import params
from include.symphonics.params import InvalidParam


@pytest.mark.parametrize(
    ("raw", "name", "words"),
    [
        ({"from": "not a date"}, "from", "not an ISO 8601 date-time"),
        ({"from": "P1D"}, "from", "duration"),
        ({"to": "2026-01-01/2026-02-01"}, "to", "interval"),
        ({"to": 20260101}, "to", "int"),
        ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "from", "after 'to'"),
        ({"external_ids": [1, None, {"a": 1}, True]}, "external_ids", "item 0 is int"),
        ({"external_ids": ["int_000001", None]}, "external_ids", "item 1 is NoneType"),
        ({"external_ids": ["int_000001", True]}, "external_ids", "item 1 is bool"),
        ({"external_ids": [" "]}, "external_ids", "item 0 is empty"),
        ({"external_ids": "int_000001,int_000002"}, "external_ids", "expected a list"),
        ({"external_ids": [f"int_{n:06d}" for n in range(params.MAX_EXTERNAL_IDS + 1)]}, "external_ids", "at most"),
        ({"dry_run": "yes"}, "dry_run", "true or false"),
        ({"force": 1}, "force", "true or false"),
    ],
)
def test_a_bad_publish_param_is_refused_with_its_name(raw: dict[str, Any], name: str, words: str) -> None:
    with pytest.raises(InvalidParam) as refused:
        params.publish_params(raw)

    assert refused.value.name == name
    assert str(refused.value).startswith(f"param {name!r}: ")
    assert words in str(refused.value)


def test_good_publish_params_are_parsed() -> None:
    checked = params.publish_params(
        {
            "from": "2026-01-01",
            "to": "2026-01-02T10:30:00+01:00",
            "external_ids": [" int_000002 ", "int_000001", "int_000002"],
            "dry_run": True,
            "force": None,
        }
    )

    assert checked.from_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert checked.to_at == datetime(2026, 1, 2, 9, 30, tzinfo=UTC)
    assert checked.external_ids == ("int_000002", "int_000001")
    assert (checked.dry_run, checked.force) == (True, False)
    assert params.publish_params({"from": None, "to": "", "external_ids": None}) == params.PublishParams()


@pytest.mark.parametrize("value", ["yesterday", "P1D", 5, "2026-02-30"])
def test_a_bad_snapshot_date_is_refused_with_its_name(value: Any) -> None:
    with pytest.raises(InvalidParam, match=r"^param 'snapshot_date': "):
        params.snapshot_date_param({"snapshot_date": value})


def test_a_snapshot_date_or_none() -> None:
    assert params.snapshot_date_param({"snapshot_date": " 2026-11-01 "}) == "2026-11-01"
    assert params.snapshot_date_param({"snapshot_date": None}) is None
    assert params.snapshot_date_param({}) is None


def test_an_invalid_param_fails_the_task_without_retry() -> None:
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException, match="param 'from'"):
        params.fail_run_on_invalid(params.publish_params, {"from": "P1D"})


def test_the_declared_schemas_are_strict() -> None:
    assert params.INSTANT_SCHEMA["format"] == "date-time"
    assert params.EXTERNAL_IDS_SCHEMA["items"]["type"] == "string"
    assert params.EXTERNAL_IDS_SCHEMA["maxItems"] == params.MAX_EXTERNAL_IDS
    assert "sent only if" in params.EXTERNAL_IDS_DESCRIPTION


@pytest.mark.parametrize(
    ("conf", "named"),
    [
        ({"unknown_param": 1}, "unknown_param"),
        ({"dryrun": True}, "dryrun"),
        ({"dry_run": True, "zeta": 1, "alpha": 2}, "alpha, zeta"),
    ],
)
def test_a_conf_key_the_dag_does_not_declare_is_refused_by_name(conf: dict[str, Any], named: str) -> None:
    with pytest.raises(InvalidParam) as refused:
        params.check_conf_keys(conf, ["dry_run", "external_ids", "force", "from", "to"])

    assert refused.value.name == named
    assert "unknown param" in str(refused.value)


def test_a_declared_conf_or_no_conf_is_accepted() -> None:
    params.check_conf_keys({"dry_run": True, "from": None}, ["dry_run", "from"])
    params.check_conf_keys(None, [])
    params.check_conf_keys({}, [])
    with pytest.raises(InvalidParam, match="its params: none"):
        params.check_conf_keys({"anything": 1}, [])


def test_a_typo_names_the_param_it_is_close_to() -> None:
    with pytest.raises(InvalidParam, match="did you mean 'dry_run'"):
        params.check_conf_keys({"dryrun": True}, ["dry_run", "force"])
