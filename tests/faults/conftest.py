"""Fixtures of the fault suite, and the collector that writes ``docs/RELIABILITY.md``.

The publish world (seeded app database, clean ledger, the sandbox behind ``symphonics_default``) comes from
``tests/publish/conftest.py``; the sandbox fixtures are global (root conftest). Each scenario reports its figures
to :class:`ReliabilityCollector`. ``docs/RELIABILITY.md`` is a tracked file, so an ordinary test run never touches
it: the session's end rewrites it from the figures only when ``SYMPHONICS_WRITE_RELIABILITY=1`` is set and every
scenario of the suite ran and passed. It holds counts only (no runtime, no timestamp), so identical runs give an
identical file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.faults.audit import SCENARIOS, render_reliability
from tests.publish.conftest import (  # noqa: F401 - fixtures, shared with tests/publish
    PublishWorld,
    fresh_app_db,
    publish_app_template,
    publish_dag,
    world,
)
from tests.reconcile.conftest import clean_reconcile_tables, reconcile_dag  # noqa: F401

RELIABILITY_DOC = Path(__file__).resolve().parents[2] / "docs" / "RELIABILITY.md"
#: Set to ``1`` to let a complete, green session rewrite ``docs/RELIABILITY.md``.
WRITE_RELIABILITY_ENV = "SYMPHONICS_WRITE_RELIABILITY"
_COLLECTOR_KEY = pytest.StashKey["ReliabilityCollector"]()


@dataclass
class ScenarioFigures:
    """What one test of a scenario measured."""

    scenario: str
    case: str
    faults: int
    lost: int
    duplicated: int
    server_errors: int
    secrets: int
    note: str = ""


@dataclass
class ReliabilityCollector:
    """Figures of the session's fault scenarios, and the outcome of each fault test."""

    figures: list[ScenarioFigures] = field(default_factory=list)
    outcomes: dict[str, str] = field(default_factory=dict)
    #: The reason of each fault test that xfailed (a declared gap), by node id.
    xfailed: dict[str, str] = field(default_factory=dict)
    collected: int = 0

    def record(
        self,
        scenario: str,
        case: str,
        *,
        faults: int,
        lost: int = 0,
        duplicated: int = 0,
        server_errors: int = 0,
        secrets: int = 0,
        note: str = "",
    ) -> None:
        """Add one test's figures (call it before the assertions, so a failure still shows its numbers).

        :param scenario: a key of :data:`tests.faults.audit.SCENARIOS`.
        :param case: the variant (e.g. the 409 mode).
        :param faults: faults injected (kills, restarts, armed faulty answers, bad rows...).
        """
        assert scenario in SCENARIOS, scenario
        self.figures.append(
            ScenarioFigures(scenario, case, faults, lost, duplicated, server_errors, secrets, note=note)
        )

    def complete(self) -> bool:
        """Every scenario reported, and every fault test collected passed (or xfailed as declared)."""
        reported = {figure.scenario for figure in self.figures}
        return (
            self.collected > 0
            and len(self.outcomes) == self.collected
            and all(outcome in ("passed", "xfailed") for outcome in self.outcomes.values())
            and all(key in reported for key in SCENARIOS)
        )


def _collector(config: pytest.Config) -> ReliabilityCollector:
    if _COLLECTOR_KEY not in config.stash:
        config.stash[_COLLECTOR_KEY] = ReliabilityCollector()
    return config.stash[_COLLECTOR_KEY]


def _is_fault_test(item: pytest.Item) -> bool:
    return Path(str(item.fspath)).resolve().parent == Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    _collector(config).collected = sum(1 for item in items if _is_fault_test(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if _is_fault_test(item):
        outcomes = _collector(item.config).outcomes
        if report.failed:
            outcomes[item.nodeid] = "failed"
        elif report.skipped and hasattr(report, "wasxfail"):
            outcomes[item.nodeid] = "xfailed"
            _collector(item.config).xfailed[item.nodeid] = str(report.wasxfail)
        elif report.skipped:
            outcomes[item.nodeid] = "skipped"
        elif report.when == "call" and item.nodeid not in outcomes:
            outcomes[item.nodeid] = "passed"
    return report


def reliability_write_wanted() -> bool:
    """Whether this session was asked to regenerate ``docs/RELIABILITY.md`` (``SYMPHONICS_WRITE_RELIABILITY=1``)."""
    return os.environ.get(WRITE_RELIABILITY_ENV, "").strip() == "1"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    collector = session.config.stash.get(_COLLECTOR_KEY, None)
    if not reliability_write_wanted() or collector is None or not collector.complete():
        return
    RELIABILITY_DOC.write_text(render_reliability(collector.figures, collector.xfailed), encoding="utf-8")


@pytest.fixture
def reliability(request: pytest.FixtureRequest) -> ReliabilityCollector:
    """The session's collector of figures."""
    return _collector(request.config)


@pytest.fixture
def fault_world(world: PublishWorld) -> PublishWorld:  # noqa: F811
    """The publish world, with the reconciliation's and the receiver's tables empty too."""
    clean_reconcile_tables(world.sync_dsn)
    return world


@pytest.fixture
def env_snapshot() -> Any:
    """The environment a subprocess of this test inherits (``os.environ`` with the test's monkeypatches)."""
    return dict(os.environ)
