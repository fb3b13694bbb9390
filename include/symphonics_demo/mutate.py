"""Later activity in the app after the pipeline published: late documents, address edits, cancellations.

The targets are chosen among the interventions the pipeline is expected to publish (and the partner to keep),
so each mutation has one expected consequence in the ledger. They go through the app's own triggers, which
move ``updated_at`` forward: that is what the incremental extraction must notice.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import psycopg
from psycopg import sql

from include.symphonics_demo.expectations import ExpectedState, expected_outcomes
from include.symphonics_demo.generator import DOCUMENT_BASE_URL
from include.symphonics_demo.pools import build_name_pools


class MutationAction(StrEnum):
    """A change made in the app after publication, and its expected ledger state."""

    LATE_DOCUMENT = "late_document"  # an additional_proof is added: PATCH, ledger state `updated`
    ADDRESS_EDIT = "address_edit"  # the address changes: the API cannot carry it, `changed_after_publish`
    CANCELLATION = "cancellation"  # cancelled after completion: `changed_after_publish`


EXPECTED_STATE_AFTER: Mapping[MutationAction, str] = {
    MutationAction.LATE_DOCUMENT: "updated",
    MutationAction.ADDRESS_EDIT: "changed_after_publish",
    MutationAction.CANCELLATION: "changed_after_publish",
}

# Share of each action among the K edits; LATE_DOCUMENT takes what is left.
ACTION_SHARES: Mapping[MutationAction, float] = {
    MutationAction.ADDRESS_EDIT: 0.3,
    MutationAction.CANCELLATION: 0.2,
}


@dataclass(frozen=True, slots=True)
class PlannedMutation:
    """One change to make.

    :param intervention_id: the app's primary key.
    :param external_id: the app's external id.
    :param action: what changes.
    :param expected_state: the ledger state the pipeline should reach once it has seen the change.
    """

    intervention_id: int
    external_id: str
    action: MutationAction
    expected_state: str


@dataclass
class MutationReport:
    """What a mutate run changed.

    :param mutations: the changes, in intervention id order.
    :param counts: changes per action.
    """

    mutations: list[PlannedMutation] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def plan_mutations(
    seed: int,
    interventions: int,
    edits: int,
    *,
    shares: Mapping[str, float] | None = None,
    round_number: int = 1,
) -> list[PlannedMutation]:
    """Choose the interventions to change and how (pure, no database).

    Rounds 1, 2, ... with the same ``edits`` take disjoint targets, so a cancelled intervention is never
    changed again.

    :param seed: the data set's seed (the one given to ``seed``).
    :param interventions: the data set's N.
    :param edits: K, the number of interventions to change.
    :param shares: the share overrides the data set was seeded with.
    :param round_number: 1 for the first mutate run on this data set, 2 for the next, ...
    :raises ValueError: when fewer than K published interventions are left for this round.
    """
    if round_number < 1 or edits < 0:
        raise ValueError("round_number starts at 1 and edits cannot be negative")
    expected = expected_outcomes(seed, interventions, shares)
    eligible = [
        outcome
        for outcome in expected.outcomes.values()
        if outcome.state == ExpectedState.PUBLISHED and not outcome.partner_rejects_later
    ]
    rng = random.Random(f"symphonics-demo-mutate:{seed}")
    rng.shuffle(eligible)
    start = (round_number - 1) * edits
    targets = eligible[start : start + edits]
    if len(targets) < edits:
        raise ValueError(f"only {len(targets)} published interventions left for round {round_number}")
    actions: list[MutationAction] = []
    for action, share in ACTION_SHARES.items():
        actions.extend([action] * int(share * edits))
    actions.extend([MutationAction.LATE_DOCUMENT] * (edits - len(actions)))
    rng.shuffle(actions)
    mutations = [
        PlannedMutation(outcome.intervention_id, outcome.external_id, action, EXPECTED_STATE_AFTER[action])
        for outcome, action in zip(targets, actions, strict=True)
    ]
    return sorted(mutations, key=lambda mutation: mutation.intervention_id)


_APPLY_LATE_DOCUMENTS = sql.SQL(
    """
    INSERT INTO public.intervention_documents (intervention_id, type, name, url, created_at)
    SELECT i.id,
           'additional_proof',
           'Preuve supplémentaire - ' || c.first_name || ' ' || c.last_name || ' - '
               || to_char(now() AT TIME ZONE 'Europe/Paris', 'DD/MM/YYYY'),
           {base_url} || '/' || i.external_id || '/additional_proof_'
               || to_char(now(), 'YYYYMMDD"T"HH24MISS') || '.pdf',
           now()
      FROM demo_mutations AS m
      JOIN public.interventions AS i ON i.id = m.intervention_id
      JOIN public.customers AS c ON c.id = i.customer_id
     WHERE m.action = 'late_document'
    """
)

# No updated_at here: the app's trigger moves it forward, as it does for the app's own edits.
_APPLY_ADDRESS_EDITS = sql.SQL(
    """
    UPDATE public.interventions AS i
       SET address = m.new_address
      FROM demo_mutations AS m
     WHERE m.intervention_id = i.id AND m.action = 'address_edit'
    """
)

_APPLY_CANCELLATIONS = sql.SQL(
    """
    UPDATE public.interventions AS i
       SET status = 'cancelled'
      FROM demo_mutations AS m
     WHERE m.intervention_id = i.id AND m.action = 'cancellation'
    """
)


def mutate_database(
    dsn: str,
    *,
    seed: int,
    edits: int,
    shares: Mapping[str, float] | None = None,
    round_number: int = 1,
) -> MutationReport:
    """Apply :func:`plan_mutations` to a seeded app database, set-based, in one transaction.

    :param dsn: libpq DSN of the app database.
    :param seed: the seed the database was seeded with.
    :param edits: K, the number of interventions to change.
    :param shares: the share overrides the database was seeded with.
    :param round_number: 1 for the first mutate run on this data set, 2 for the next, ...
    :raises RuntimeError: when the database holds no demo data set.
    """
    with psycopg.connect(dsn) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT count(*), coalesce(max(id), 0) FROM public.interventions")
        row = cur.fetchone()
        count, max_id = (int(row[0]), int(row[1])) if row else (0, 0)
        if count == 0 or count != max_id:
            raise RuntimeError("the app database does not hold a demo data set: run `seed` first")
        mutations = plan_mutations(seed, count, edits, shares=shares, round_number=round_number)

        pools = build_name_pools(seed)
        rng = random.Random(f"symphonics-demo-mutate-rows:{seed}:{round_number}")
        cur.execute(
            "CREATE TEMPORARY TABLE demo_mutations "
            "(intervention_id bigint PRIMARY KEY, action text NOT NULL, new_address text) ON COMMIT DROP"
        )
        with cur.copy("COPY demo_mutations (intervention_id, action, new_address) FROM STDIN") as copy:
            for mutation in mutations:
                new_address = (
                    f"{rng.randrange(1, 160)} {rng.choice(pools.streets)}"
                    if mutation.action == MutationAction.ADDRESS_EDIT
                    else None
                )
                copy.write_row((mutation.intervention_id, mutation.action.value, new_address))
        cur.execute(_APPLY_LATE_DOCUMENTS.format(base_url=sql.Literal(DOCUMENT_BASE_URL)))
        cur.execute(_APPLY_ADDRESS_EDITS)
        cur.execute(_APPLY_CANCELLATIONS)

    counts = dict.fromkeys((action.value for action in MutationAction), 0)
    for mutation in mutations:
        counts[mutation.action.value] += 1
    return MutationReport(mutations=mutations, counts=counts)
