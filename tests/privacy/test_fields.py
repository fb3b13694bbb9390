"""What is personal in a ledger record, and how minimisation keeps the diff working without the values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from include.symphonics.core.markers import is_marker, removal_marker
from include.symphonics.privacy.erasure import ErasureRequest, ErasureRequestError
from include.symphonics.privacy.fields import PERSONAL_PATHS, minimise_changed_fields, minimise_record
from include.symphonics.privacy.settings import PrivacySettings
from include.symphonics.publish.payload import build_payload, unpatchable_changes

SOURCE: dict[str, Any] = {
    "external_id": "int_00000042",
    "status": "completed",
    "completion_date": "2026-03-02T10:00:00Z",
    "customer": {"first_name": "Zéphyrine", "last_name": "Quaranta", "email": "z.q@example.fr", "phone": "0698765432"},
    "installation": {
        "address": "17 impasse des Quenouilles",
        "postal_code": "69003",
        "city": "Lyon",
        "pdl": "12345678901234",
        "pce": None,
    },
    "installer": {"email": "paul.roux@isol.fr", "name": "Paul Roux", "company_id": "cmp_00000001"},
    "services": [{"code": "BAR-TH-171", "name": "Pompe à chaleur", "quantity": 1}],
    "equipment": [{"name": "PAC", "model": "X1", "serial_number": "SN1", "quantity": 1}],
    "documents": [
        {"type": "invoice", "name": "Facture - Zéphyrine Quaranta", "url": "https://docs/int_00000042/i.pdf"}
    ],
    "photos": [
        {
            "type": "before",
            "url": "https://p/1.jpg",
            "latitude": 45.75,
            "longitude": 4.85,
            "timestamp": "2026-03-02T09:00:00Z",
        }
    ],
}
PERSONAL_VALUES = (
    "Zéphyrine",
    "Quaranta",
    "z.q@example.fr",
    "0698765432",
    "+33698765432",
    "Quenouilles",
    "12345678901234",
    "paul.roux@isol.fr",
    "Paul Roux",
    "45.75",
)


def _payload(source: dict[str, Any]) -> dict[str, Any]:
    return build_payload(source, phone_e164="+33698765432", pdl="12345678901234")


def test_personal_paths_are_at_most_two_keys_deep() -> None:
    # symphonics.redact_personal (migration 0009) walks the top-level keys and one level below.
    assert max(len(path) for path in PERSONAL_PATHS) <= 2


def test_a_minimised_record_holds_no_personal_value_and_keeps_the_rest() -> None:
    for record in (SOURCE, _payload(SOURCE)):
        reduced = minimise_record(record, SOURCE["external_id"])
        text = json.dumps(reduced, ensure_ascii=False)
        assert [value for value in PERSONAL_VALUES if value in text] == []
        assert reduced is not None
        assert reduced["services"] == record["services"]
        assert reduced["installation"]["postal_code"] == "69003"
        assert reduced["documents"] == [{"type": "invoice", "url": "https://docs/int_00000042/i.pdf"}]
        assert minimise_record(reduced, SOURCE["external_id"]) == reduced  # twice changes nothing
    assert minimise_record(None, "x") is None


def test_the_diff_of_a_minimised_payload_still_names_an_edited_field() -> None:
    sent = minimise_record(_payload(SOURCE), SOURCE["external_id"])
    assert sent is not None
    assert unpatchable_changes(_payload(SOURCE), sent) == {}
    moved = {**SOURCE, "installation": {**SOURCE["installation"], "address": "3 rue Neuve"}}
    changes = unpatchable_changes(_payload(moved), sent)
    assert set(changes) == {"installation.address"}
    renamed = {**SOURCE, "customer": {**SOURCE["customer"], "last_name": "Vasseur"}}
    assert set(unpatchable_changes(_payload(renamed), sent)) == {"customer.last_name"}
    # The same values on another row give other fingerprints: the salt is the row's external id.
    other = minimise_record(_payload({**SOURCE, "external_id": "int_00000043"}), "int_00000043")
    assert other is not None
    assert other["customer"]["email"] != sent["customer"]["email"]


def test_a_removed_value_is_not_reported_as_a_change() -> None:
    sent = _payload(SOURCE)
    for path in PERSONAL_PATHS:
        target = sent
        for key in path[:-1]:
            target = target.get(key, {})
        if path[-1] in target:
            target[path[-1]] = removal_marker("retention")
    moved = {**SOURCE, "installation": {**SOURCE["installation"], "address": "3 rue Neuve"}}
    assert unpatchable_changes(_payload(moved), sent) == {}
    assert is_marker(sent["customer"]["email"])


def test_changed_fields_keep_their_names_and_non_personal_values() -> None:
    changed = {
        "installation.address": {"sent": "17 impasse des Quenouilles", "now": "3 rue Neuve"},
        "status": {"sent": "completed", "now": "cancelled"},
    }
    reduced = minimise_changed_fields(changed, "int_00000042")
    assert reduced is not None
    assert set(reduced) == set(changed)
    assert reduced["status"] == changed["status"]
    assert "Quenouilles" not in json.dumps(reduced)
    assert "Neuve" not in json.dumps(reduced)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"email": "a@b.fr", "customer_id": 3}, "exactly one"),
        ({"email": "not-an-address"}, "not an address"),
        ({"customer_id": 0}, "positive"),
        ({"customer_id": 3, "reference": "jane.doe@example.fr"}, "reference"),
    ],
)
def test_an_erasure_request_naming_nobody_clearly_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ErasureRequestError, match=message):
        ErasureRequest(**kwargs)


def test_the_retention_is_configurable_and_refuses_a_typo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYMPHONICS_PERSONAL_DATA_RETENTION_DAYS", raising=False)
    assert PrivacySettings.from_environment().retention.days == 90
    monkeypatch.setenv("SYMPHONICS_PERSONAL_DATA_RETENTION_DAYS", "30")
    assert PrivacySettings.from_environment().retention.days == 30
    monkeypatch.setenv("SYMPHONICS_PERSONAL_DATA_RETENTION_DAYS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        PrivacySettings.from_environment()
