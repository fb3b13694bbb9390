"""The local rules: what can be checked without spending a partner call, in the contract's precedence order.

The first rule that fails gives the row its one primary reason (docs/APP_CONTRACT.md, "Rules the pipeline
follows"): the contract's rules in the order :class:`~include.symphonics.core.states.Reason` lists them,
then the checks of fields the partner refuses that the demo never breaks (kept last so the contract's reasons
do not move).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from include.symphonics.core.normalise import PDL_DIGITS, normalise_pdl, normalise_phone
from include.symphonics.core.states import LedgerState, Reason
from include.symphonics.publish.payload import (
    address_is_usable,
    build_payload,
    coordinates_in_range,
    email_is_well_formed,
    pdl_is_missing,
)

REQUIRED_DOCUMENTS = ("invoice", "attestation_honneur", "contract")
REQUIRED_PHOTOS = ("before", "after")


@dataclass(frozen=True)
class LocalVerdict:
    """The local rules' decision on one source record.

    :param state: ``prevalidated`` (passed: on to the partner validation), ``invalid`` or ``out_of_scope``.
    :param reason: the primary reason when not passed.
    :param detail: a sentence for ops.
    :param payload: the payload to complete and send, when passed.
    :param needs_lookup: the PDL must be found by a lookup by address.
    """

    state: LedgerState
    reason: str | None = None
    detail: str | None = None
    payload: dict[str, Any] | None = field(default=None, repr=False)
    needs_lookup: bool = False

    @property
    def passed(self) -> bool:
        """Whether the record goes on to the partner validation."""
        return self.state is LedgerState.PREVALIDATED


def _invalid(reason: str, detail: str) -> LocalVerdict:
    return LocalVerdict(LedgerState.INVALID, reason, detail)


def check_local_rules(source: Mapping[str, Any]) -> LocalVerdict:
    """Apply the local rules to one extracted record, first failing rule first.

    :param source: the extracted record (``sql/publish/build_sources.sql``).
    """
    failed = _scope_rules_failed(source)
    if failed is not None:
        return failed

    installation = source.get("installation") or {}
    raw_pdl = installation.get("pdl")
    pdl = normalise_pdl(raw_pdl)
    usable_address = address_is_usable(installation)
    if pdl is None and not pdl_is_missing(raw_pdl) and not usable_address:
        return _invalid(Reason.INVALID_PDL_FORMAT.value, "the PDL is not 14 digits and the address cannot be looked up")
    if pdl_is_missing(raw_pdl) and not usable_address:
        return _invalid(Reason.MISSING_PDL.value, "no PDL and the address cannot be looked up")

    customer = source.get("customer") or {}
    phone = normalise_phone(customer.get("phone"))
    if phone is None:
        return _invalid(Reason.INVALID_PHONE.value, "the customer's phone is not a valid number")

    failed = _evidence_rules_failed(source) or _partner_field_rules_failed(source, usable_address=usable_address)
    if failed is not None:
        return failed
    return LocalVerdict(
        LedgerState.PREVALIDATED,
        payload=build_payload(source, phone_e164=phone, pdl=pdl),
        needs_lookup=pdl is None,
    )


def _scope_rules_failed(source: Mapping[str, Any]) -> LocalVerdict | None:
    """The first rules: a completed intervention, with its date, by an onboarded company; None when they pass."""
    if source.get("status") != "completed":
        return LocalVerdict(LedgerState.OUT_OF_SCOPE, Reason.NOT_COMPLETED.value, f"status is {source.get('status')}")
    if not source.get("completion_date"):
        return _invalid(Reason.MISSING_COMPLETION_DATE.value, "completed without a completion date")
    installer = source.get("installer") or {}
    if not installer.get("company_id"):
        return _invalid(Reason.COMPANY_NOT_ONBOARDED.value, "the installer's company has no Symphonics id")
    return None


def _evidence_rules_failed(source: Mapping[str, Any]) -> LocalVerdict | None:
    """The documents and photos the contract requires, photos with coordinates; None when they pass."""
    document_types = {document.get("type") for document in source.get("documents") or []}
    missing_documents = [kind for kind in REQUIRED_DOCUMENTS if kind not in document_types]
    if missing_documents:
        return _invalid(Reason.MISSING_DOCUMENT.value, f"missing document(s): {', '.join(missing_documents)}")

    photos = source.get("photos") or []
    photo_types = {photo.get("type") for photo in photos}
    missing_photos = [kind for kind in REQUIRED_PHOTOS if kind not in photo_types]
    if missing_photos:
        return _invalid(Reason.MISSING_PHOTO.value, f"missing photo(s): {', '.join(missing_photos)}")
    if any(photo.get("latitude") is None or photo.get("longitude") is None for photo in photos):
        return _invalid(Reason.PHOTO_WITHOUT_COORDINATES.value, "a photo has no coordinates")
    return None


def _partner_field_rules_failed(source: Mapping[str, Any], *, usable_address: bool) -> LocalVerdict | None:
    """Beyond the contract's table: fields the partner's create refuses, checked last; None when they pass.

    :param usable_address: whether the installation's address can be sent (checked once by the caller).
    """
    photos = source.get("photos") or []
    customer = source.get("customer") or {}
    installer = source.get("installer") or {}
    if any(not photo.get("timestamp") for photo in photos):
        return _invalid(Reason.PHOTO_WITHOUT_TIMESTAMP.value, "a photo has no timestamp")
    # Every photo has coordinates here: _evidence_rules_failed ran first.
    if not all(coordinates_in_range(photo["latitude"], photo["longitude"]) for photo in photos):
        return _invalid(Reason.INVALID_COORDINATES.value, "a photo's coordinates are not a point on Earth")
    if not (str(customer.get("first_name") or "").strip() and str(customer.get("last_name") or "").strip()):
        return _invalid(Reason.MISSING_CUSTOMER_NAME.value, "the customer's first or last name is empty")
    if not email_is_well_formed(customer.get("email")):
        return _invalid(Reason.INVALID_EMAIL.value, "the customer's e-mail is missing or malformed")
    if not email_is_well_formed(installer.get("email")):
        return _invalid(Reason.INVALID_INSTALLER_EMAIL.value, "the installer's e-mail is malformed")
    if not usable_address:
        return _invalid(Reason.INVALID_ADDRESS.value, "the address needs a street, a 5-digit postal code and a city")
    raw_pce = (source.get("installation") or {}).get("pce")
    if raw_pce is not None and raw_pce.strip() and not PDL_DIGITS.match("".join(raw_pce.split())):
        return _invalid(Reason.INVALID_PCE.value, "the PCE is not 14 digits")
    return None
