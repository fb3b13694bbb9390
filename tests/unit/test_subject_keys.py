"""The erasure index's keyed hashes: one e-mail in any case is one hash, a rotation's rehash gives what a lookup
computes with the new chain, and short or missing keys are refused without quoting them."""

from __future__ import annotations

import pytest

from include.symphonics.core.subject_keys import (
    CUSTOMER_ID,
    EMAIL,
    SubjectKeys,
    SubjectKeysError,
    subject_identifiers,
)

OLD = "unit-test-subject-key-number-one-0123456789"
NEW = "unit-test-subject-key-number-two-0123456789"


def test_an_email_in_any_case_hashes_alike_and_kinds_never_collide() -> None:
    keys = SubjectKeys.parse(OLD)
    assert keys.current(EMAIL, " Jane.Doe@Exemple.fr ") == keys.current(EMAIL, "jane.doe@exemple.fr")
    assert keys.current(CUSTOMER_ID, "42") != keys.current(EMAIL, "42")
    assert len(keys.current(CUSTOMER_ID, 42)) == 32
    assert keys.current(EMAIL, "a@b.fr") != SubjectKeys.parse(NEW).current(EMAIL, "a@b.fr")


def test_a_rehash_gives_the_hash_a_lookup_computes_after_the_rotation() -> None:
    before = SubjectKeys.parse(OLD)
    after = SubjectKeys.parse(f"{OLD}, {NEW}")
    stored = before.current(EMAIL, "jane.doe@exemple.fr")
    assert after.rehash(stored, 1) == after.current(EMAIL, "jane.doe@exemple.fr")
    assert after.chain(EMAIL, "jane.doe@exemple.fr") == [(1, stored), (2, after.rehash(stored, 1))]


@pytest.mark.parametrize("secret", ["", " , ", "short", f"{OLD},short"])
def test_missing_or_short_keys_are_refused_without_quoting_them(secret: str) -> None:
    with pytest.raises(SubjectKeysError) as error:
        SubjectKeys.parse(secret)
    assert "short" not in str(error.value)


def test_an_intervention_is_named_by_its_customer_id_and_its_email_when_in_clear() -> None:
    source = {"customer": {"email": "jane@exemple.fr"}}
    assert subject_identifiers(source, 7) == [(EMAIL, "jane@exemple.fr"), (CUSTOMER_ID, "7")]
    assert subject_identifiers({"customer": {"email": {"removed": "minimised"}}}, None) == []
