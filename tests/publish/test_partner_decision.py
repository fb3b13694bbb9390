"""The partner-validation decision for one row, from the partner's answers (no server, no database): ready with the
partner's ids, rejected with the reason the ledger records, or undecided while an answer is missing or may change."""

from __future__ import annotations

from typing import Any

import pytest

from include.symphonics.client import SymphonicsUnavailable, SymphonicsValidationError
from include.symphonics.publish import partner_validation as pv
from include.symphonics.publish.settings import PublishSettings

SETTINGS = PublishSettings()
ROW = {
    "payload": {
        "external_id": "int_1",
        "installation": {"address": "1 rue de la Paix", "pdl": "12345678901234"},
        "installer": {"email": "installer@example.test"},
    }
}
ACTIVE = pv.UserAnswer(exists=True, user_id="usr_1", status="active")
REFUSED = pv.Failure(SymphonicsValidationError("refused", status=422))
UNAVAILABLE = pv.Failure(SymphonicsUnavailable("down", status=503))


def _state_and_reason(decision: Any) -> tuple[str, str | None] | None:
    if decision is None:
        return None
    state, reason = (decision.state, decision.reason) if hasattr(decision, "state") else decision[:2]
    return str(getattr(state, "value", state)), None if reason is None else str(getattr(reason, "value", reason))


def _decide(pdl: Any, user: Any) -> tuple[str, str | None] | None:
    return _state_and_reason(pv._decide(ROW, pdl, user, SETTINGS))


@pytest.mark.parametrize(
    ("pdl", "user", "expected"),
    [
        (pv.PdlAnswer(valid=True), ACTIVE, ("ready", None)),
        (pv.LookupAnswer(found=True, pdl="19999999999991", confidence=0.95), ACTIVE, ("ready", None)),
        (pv.PdlAnswer(valid=False, message="unknown"), ACTIVE, ("rejected_validation", "pdl_invalid")),
        (pv.LookupAnswer(found=False), ACTIVE, ("rejected_validation", "pdl_lookup_not_found")),
        (
            pv.LookupAnswer(found=True, pdl="19999999999991", confidence=0.5),
            ACTIVE,
            ("rejected_validation", "pdl_lookup_low_confidence"),
        ),
        (pv.PdlAnswer(valid=True), pv.UserAnswer(exists=False), ("rejected_validation", "installer_unknown")),
        (
            pv.PdlAnswer(valid=True),
            pv.UserAnswer(exists=True, user_id="usr_1", status="suspended"),
            ("rejected_validation", "installer_inactive"),
        ),
        (REFUSED, ACTIVE, ("rejected_validation", "partner_refused")),
        (pv.PdlAnswer(valid=True), REFUSED, ("rejected_validation", "partner_refused")),
        # Undecided: an answer is missing, or the partner failed in a way that may pass.
        (None, ACTIVE, None),
        (pv.PdlAnswer(valid=True), None, None),
        (UNAVAILABLE, ACTIVE, None),
        (pv.PdlAnswer(valid=True), UNAVAILABLE, None),
    ],
)
def test_the_decision_for_each_answer(pdl: Any, user: Any, expected: tuple[str, str | None] | None) -> None:
    assert _decide(pdl, user) == expected


def test_a_ready_row_carries_the_partners_pdl_and_installer_id_and_leaves_the_row_alone() -> None:
    lookup = pv.LookupAnswer(found=True, pdl="19999999999991", confidence=0.95)
    decision = pv._decide(ROW, lookup, ACTIVE, SETTINGS)
    assert decision is not None
    payload = decision.payload if hasattr(decision, "payload") else decision[3]
    assert payload["installation"]["pdl"] == "19999999999991"
    assert payload["installer"] == {"email": "installer@example.test", "id": "usr_1"}
    assert ROW["payload"]["installation"]["pdl"] == "12345678901234"  # the claimed row is not modified
