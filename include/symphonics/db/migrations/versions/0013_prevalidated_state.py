"""A row that passed the local rules and waits for the partner's validation is in its own state, ``prevalidated``.

Until 0012 it stayed ``pending`` and only ``prevalidated_at IS NOT NULL`` told it from a row the local rules had
not seen yet: every reader had to repeat the column test. The upgrade moves those rows to ``prevalidated`` and
replaces what lists the states:

* ``interventions_ledger_state_check`` (0003): every state, now with ``prevalidated``;
* ``interventions_ledger_reason_check`` (0003): ``prevalidated`` needs no reason, as ``pending`` did;
* ``interventions_ledger_work_idx`` (0003): the claim's work states, now with ``prevalidated``;
* ``interventions_ledger_to_minimise_idx`` and ``interventions_ledger_retention_idx`` (0009): a row waiting for
  the partner keeps its personal data in clear (the validation and the send need them), so neither lists it.

The move is a rename, not a transition: 0011's history trigger is disabled while it runs (no ``pending →
prevalidated`` step that no run made), and ``state_changed_at`` is kept. The history keeps the name a row's state
had when it changed. The downgrade moves the rows back to ``pending`` (``prevalidated_at`` is kept, so 0012's
column test finds them again) and restores 0003's and 0009's definitions exactly.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Frozen here (a released migration never changes); a test holds them to include/symphonics/publish/states.py.
LEDGER_STATES = (
    "out_of_scope",
    "pending",
    "prevalidated",
    "invalid",
    "rejected_validation",
    "ready",
    "sending",
    "published",
    "updated",
    "conflict_unresolved",
    "changed_after_publish",
    "failed_retryable",
    "dead_letter",
)
WORK_STATES = ("pending", "prevalidated", "ready", "sending", "failed_retryable")
REASONLESS_STATES = ("pending", "prevalidated", "ready", "sending", "published", "updated")

# As 0003 and 0009 left them: what the downgrade restores.
_OLD_STATES = tuple(state for state in LEDGER_STATES if state != "prevalidated")
_OLD_WORK_STATES = tuple(state for state in WORK_STATES if state != "prevalidated")
_OLD_REASONLESS_STATES = tuple(state for state in REASONLESS_STATES if state != "prevalidated")

_LEDGER = "symphonics.interventions_ledger"
_HISTORY_TRIGGER = "interventions_ledger_history_update"


def _listed(states: tuple[str, ...]) -> str:
    return ", ".join(f"'{state}'" for state in states)


def _constraints(states: tuple[str, ...], reasonless: tuple[str, ...]) -> None:
    op.execute(
        f"""
        ALTER TABLE {_LEDGER}
            DROP CONSTRAINT interventions_ledger_state_check,
            DROP CONSTRAINT interventions_ledger_reason_check,
            ADD CONSTRAINT interventions_ledger_state_check CHECK (state IN ({_listed(states)})),
            ADD CONSTRAINT interventions_ledger_reason_check
                CHECK (state IN ({_listed(reasonless)}) OR state_reason IS NOT NULL)
        """
    )


def _indexes(work_states: tuple[str, ...]) -> None:
    work = _listed(work_states)
    op.execute("DROP INDEX symphonics.interventions_ledger_work_idx")
    op.execute("DROP INDEX symphonics.interventions_ledger_to_minimise_idx")
    op.execute("DROP INDEX symphonics.interventions_ledger_retention_idx")
    op.execute(f"CREATE INDEX interventions_ledger_work_idx ON {_LEDGER} (state, id) WHERE state IN ({work})")
    op.execute(
        f"CREATE INDEX interventions_ledger_to_minimise_idx ON {_LEDGER} (id) "
        f"WHERE minimised_at IS NULL AND state NOT IN ({work})"
    )
    op.execute(
        f"CREATE INDEX interventions_ledger_retention_idx ON {_LEDGER} (state_changed_at, id) "
        f"WHERE personal_data_removed_at IS NULL AND state NOT IN ({work})"
    )


def _without_history(statement: str) -> None:
    """Run ``statement`` with 0011's history trigger off: a rename is no step a run made."""
    op.execute(f"ALTER TABLE {_LEDGER} DISABLE TRIGGER {_HISTORY_TRIGGER}")
    op.execute(statement)
    op.execute(f"ALTER TABLE {_LEDGER} ENABLE TRIGGER {_HISTORY_TRIGGER}")


def upgrade() -> None:
    _constraints(LEDGER_STATES, REASONLESS_STATES)
    _without_history(
        "UPDATE symphonics.interventions_ledger SET state = 'prevalidated' "
        "WHERE state = 'pending' AND prevalidated_at IS NOT NULL"
    )
    _indexes(WORK_STATES)


def downgrade() -> None:
    _without_history("UPDATE symphonics.interventions_ledger SET state = 'pending' WHERE state = 'prevalidated'")
    _constraints(_OLD_STATES, _OLD_REASONLESS_STATES)
    _indexes(_OLD_WORK_STATES)
