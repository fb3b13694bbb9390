"""A model-based test of the ledger: random sequences of partner answers, app edits and crashes, driven through the
real pipeline steps against the sandbox, with the ledger's promises checked after each step.

Each example starts from a clone of a small seeded app database, an empty ledger and a reset sandbox (quota limits
raised, so it is not quota-bound). Rules arm a partner answer (5xx bursts, a 429 storm, a lost reply after the
create committed, a 403 on one row, 409 with or without the id), edit the app (a document added, an address changed,
a cancellation), crash a row between its ``sending`` and its answer, or run the pipeline. After every step:

* nothing is created twice at the partner;
* no row is left in ``sending`` by a run that ended;
* every row the ledger calls published is held by the partner under its id.

At the end, a bounded drain (faults cleared, three runs) checks the "eventually" promises: every valid completed
intervention is created exactly once, or its row says why not (an ops state with a reason); the partner holds the
app's latest documents of each row it holds, or the row says why not; one row's refusal kept no other row back.

A fixed seed and a bounded number of examples keep it in ``make test``; ``bench/ledger_model.py`` runs it deeper.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from include.symphonics.client import SymphonicsAuthError
from include.symphonics_demo import ExpectedDataset, ExpectedState, expected_outcomes
from include.symphonics_demo.generator import seed_database
from tests.fixtures.sandbox import SandboxAdmin
from tests.publish.conftest import clean_pipeline_tables, run_pipeline, set_symphonics_connection

pytestmark = pytest.mark.integration

MODEL_SEED = 11
MODEL_INTERVENTIONS = 12
#: Examples and steps per example in ``make test``; ``bench/ledger_model.py`` raises them.
EXAMPLES = int(os.environ.get("SYMPHONICS_MODEL_EXAMPLES", "3"))
STEPS = int(os.environ.get("SYMPHONICS_MODEL_STEPS", "6"))
#: States a row may end in with the partner not holding it, each with a reason ops can read.
WHY_NOT = {"dead_letter", "changed_after_publish", "conflict_unresolved", "rejected_validation"}

FAULTS = st.sampled_from(["burst", "storm_429", "drop_after_commit", "forbidden", "conflict_bare", "conflict_with_id"])
EDITS = st.sampled_from(["document", "address", "cancel"])


@pytest.fixture(scope="module")
def model_template(stack: Any) -> str:
    """A small app database seeded once, cloned for each example."""
    name = f"symphonics_test_{os.getpid()}_model_template"
    with psycopg.connect(stack.server.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")
    seed_database(stack.server.url(name), interventions=MODEL_INTERVENTIONS, seed=MODEL_SEED)
    return name


@pytest.fixture
def clone_app(stack: Any, model_template: str) -> Iterator[Callable[[], tuple[str, str]]]:
    """Makes a clone of the template for one example: (its name, its DSN); all are dropped after the test."""
    made: list[str] = []

    def make() -> tuple[str, str]:
        name = f"symphonics_test_{os.getpid()}_model_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(stack.server.admin_url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {model_template}")
        made.append(name)
        return name, str(stack.server.url(name))

    yield make
    with psycopg.connect(stack.server.admin_url, autocommit=True) as conn:
        for name in made:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class LedgerModel(RuleBasedStateMachine):
    """The pipeline against the sandbox under random answers, edits and crashes (see the module's docstring)."""

    # Set by the test before the machine runs (hypothesis builds one machine per example).
    sandbox: SandboxAdmin
    sync_dsn: str
    clone: Callable[[], tuple[str, str]]
    point_app: Callable[[str], None]
    expected: ExpectedDataset
    steps_run: int = 0
    examples_run: int = 0

    def __init__(self) -> None:
        super().__init__()
        type(self).examples_run += 1
        name, self.app_dsn = self.clone()
        self.point_app(name)
        clean_pipeline_tables(self.sync_dsn)
        self.sandbox.reset()
        self.sandbox.configure(
            rate_limit_per_minute=1_000_000,
            rate_limit_per_day=10_000_000,
            processing_delay=3600.0,
            decision_delay=3600.0,
        )
        self.runs = 0
        self.run_ended = True

    # -- helpers -------------------------------------------------------------------------------------------

    def _ledger(self) -> dict[str, dict[str, Any]]:
        with psycopg.connect(self.sync_dsn, row_factory=psycopg.rows.dict_row) as conn:
            rows = conn.execute("SELECT * FROM symphonics.interventions_ledger").fetchall()
        return {row["external_id"]: row for row in rows}

    def _candidates(self) -> list[str]:
        return sorted(self.expected.external_ids_in(ExpectedState.PUBLISHED))

    def _run(self) -> None:
        self.runs += 1
        type(self).steps_run += 1
        try:
            run_pipeline(f"model-{self.runs}")
            self.run_ended = True
        except SymphonicsAuthError:
            self.run_ended = False  # the account refused: the run stopped, its rows given back

    # -- rules ---------------------------------------------------------------------------------------------

    @rule()
    def run_the_pipeline(self) -> None:
        self._run()

    @rule(fault=FAULTS, pick=st.integers(min_value=0, max_value=MODEL_INTERVENTIONS), count=st.integers(1, 3))
    def the_partner_answers(self, fault: str, pick: int, count: int) -> None:
        type(self).steps_run += 1
        if fault == "burst":
            self.sandbox.burst("crm.create_intervention", count=count, status=503)
        elif fault == "storm_429":
            self.sandbox.storm_429("crm", count=count, retry_after=1)
        elif fault == "drop_after_commit":
            self.sandbox.drop_after_commit(count=1)
        elif fault == "forbidden":
            candidates = self._candidates()
            if candidates:
                self.sandbox.forbidden(candidates[pick % len(candidates)], count=count)
        else:
            self.sandbox.configure(conflict_mode="bare" if fault == "conflict_bare" else "with_id")

    @rule(edit=EDITS, pick=st.integers(min_value=0, max_value=MODEL_INTERVENTIONS))
    def the_app_changes(self, edit: str, pick: int) -> None:
        type(self).steps_run += 1
        candidates = self._candidates()
        if not candidates:
            return
        external_id = candidates[pick % len(candidates)]
        with psycopg.connect(self.app_dsn) as conn:
            if edit == "document":
                conn.execute(
                    "INSERT INTO public.intervention_documents (intervention_id, type, name, url, created_at) "
                    "SELECT id, 'additional_proof', 'Preuve supplémentaire', "
                    "'https://app.workforce-automation.com/documents/' || external_id || '/proof_' "
                    "|| %s || '.pdf', now() FROM public.interventions WHERE external_id = %s",
                    (uuid.uuid4().hex[:8], external_id),
                )
            elif edit == "address":
                conn.execute(
                    "UPDATE public.interventions SET address = address || ' bis' WHERE external_id = %s",
                    (external_id,),
                )
            else:
                conn.execute(
                    "UPDATE public.interventions SET status = 'cancelled' WHERE external_id = %s", (external_id,)
                )

    @rule(pick=st.integers(min_value=0, max_value=MODEL_INTERVENTIONS), arrived=st.booleans())
    def a_crash_between_sending_and_its_answer(self, pick: int, arrived: bool) -> None:
        """A publisher died after committing ``sending``: before the create left, or after it arrived."""
        type(self).steps_run += 1
        ledger = self._ledger()
        wanted = "published" if arrived else "ready"
        rows = sorted(e for e, row in ledger.items() if row["state"] == wanted and row["patched_at"] is None)
        if not rows:
            return
        external_id = rows[pick % len(rows)]
        with psycopg.connect(self.sync_dsn) as conn:
            conn.execute(
                "UPDATE symphonics.interventions_ledger SET state = 'sending', attempts = attempts + 1, "
                "symphonics_id = NULL, claim_key = NULL WHERE external_id = %s",
                (external_id,),
            )
        self.run_ended = False  # a crashed run: its row is left in `sending` until the next run

    # -- invariants ----------------------------------------------------------------------------------------

    @invariant()
    def nothing_is_created_twice(self) -> None:
        held = [item["external_id"] for item in self.sandbox.interventions()]
        assert len(held) == len(set(held)), f"created twice: {sorted(held)}"

    @invariant()
    def no_row_is_left_sending_after_a_run(self) -> None:
        if self.run_ended:
            sending = [e for e, row in self._ledger().items() if row["state"] == "sending"]
            assert sending == [], sending

    @invariant()
    def a_published_row_is_held_by_the_partner_under_its_id(self) -> None:
        held = {item["id"]: item["external_id"] for item in self.sandbox.interventions()}
        for external_id, row in self._ledger().items():
            if row["state"] in ("published", "updated"):
                assert held.get(row["symphonics_id"]) == external_id, (external_id, row["symphonics_id"])

    def teardown(self) -> None:
        """The drain: the partner recovers, three runs, then the "eventually" promises."""
        self.sandbox.clear_faults()
        for _ in range(3):
            self._run()
        ledger = self._ledger()
        partner = {item["external_id"]: item for item in self.sandbox.interventions()}
        for external_id in self._candidates():
            row = ledger[external_id]
            if external_id in partner:
                continue
            # Not created: the row says why (an ops state with a reason), or the app no longer wants it sent.
            assert row["state"] in WHY_NOT | {"out_of_scope", "invalid"}, (external_id, row["state"])
            assert row["state_reason"] is not None, (external_id, row["state"])
        for external_id in partner:
            row = ledger[external_id]
            documents = {document["url"] for document in (row["source"] or {}).get("documents") or []}
            sent = {document["url"] for document in (row["sent_documents"] or [])}
            if documents <= sent:
                continue
            assert row["state"] in WHY_NOT, (external_id, row["state"], documents - sent)
            assert row["state_reason"] is not None, (external_id, row["state"])


def test_the_ledger_keeps_its_promises_under_random_answers_edits_and_crashes(
    sync_dsn: str,
    sandbox: SandboxAdmin,
    clone_app: Callable[[], tuple[str, str]],
    monkeypatch: pytest.MonkeyPatch,
    stack: Any,
) -> None:
    from tests.fixtures.stack import airflow_connection_json

    monkeypatch.setenv("AIRFLOW_VAR_SYMPHONICS_KILL_SWITCH", "off")
    set_symphonics_connection(monkeypatch, sandbox)

    def point_app(name: str) -> None:
        monkeypatch.setenv("AIRFLOW_CONN_APP_DB", airflow_connection_json(stack.server, name))

    LedgerModel.sandbox = sandbox
    LedgerModel.sync_dsn = sync_dsn
    LedgerModel.clone = staticmethod(clone_app)
    LedgerModel.point_app = staticmethod(point_app)
    LedgerModel.expected = expected_outcomes(MODEL_SEED, MODEL_INTERVENTIONS)
    LedgerModel.steps_run = LedgerModel.examples_run = 0
    run_state_machine_as_test(
        LedgerModel,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=STEPS,
            deadline=None,
            derandomize=True,  # a fixed seed: the same sequences every run
            database=None,
            phases=[Phase.generate],  # no shrinking in the suite: a failure prints its steps as they ran
            suppress_health_check=list(HealthCheck),
        ),
    )
    assert LedgerModel.examples_run >= 1
    print(json.dumps({"examples": LedgerModel.examples_run, "steps": LedgerModel.steps_run}))
