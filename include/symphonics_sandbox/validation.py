"""Validation of request bodies, as a real partner does it: one problem per offending field.

Fields are named by dotted paths with list indexes (``customer.phone``, ``photos[1].coordinates.latitude``),
as in the document's error example. Fields the document does not define are refused (``unknown_fields:
reject``, the default) or ignored (``unknown_fields: ignore``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from include.symphonics_sandbox.errors import FieldProblem
from include.symphonics_sandbox.reference_data import PDL_PATTERN, POSTAL_CODE_PATTERN, is_well_formed_email

DOCUMENT_TYPES = ("invoice", "attestation_honneur", "contract", "additional_proof")
PHOTO_TYPES = ("before", "after")
PHONE_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# RFC 3339 date-time: an offset is required, since a naive time is ambiguous for a partner in another zone.
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
HTTP_URL = re.compile(r"^https?://[^\s/?#]+[^\s]*$")
MAX_TEXT_LENGTH = 500
MAX_URL_LENGTH = 2048
MAX_LIST_LENGTH = 100

Check = Callable[[Any, str, list[FieldProblem]], None]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _text(value: Any, path: str, problems: list[FieldProblem], *, max_length: int = MAX_TEXT_LENGTH) -> None:
    if not isinstance(value, str):
        problems.append(FieldProblem(path, "Must be a string"))
    elif not value.strip():
        problems.append(FieldProblem(path, "Must not be empty"))
    elif len(value) > max_length:
        problems.append(FieldProblem(path, f"Must be at most {max_length} characters"))


def _string(value: Any, path: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, str):
        problems.append(FieldProblem(path, "Must be a string"))
    elif len(value) > MAX_TEXT_LENGTH:
        problems.append(FieldProblem(path, f"Must be at most {MAX_TEXT_LENGTH} characters"))


def _email(value: Any, path: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, str):
        problems.append(FieldProblem(path, "Must be a string"))
    elif not is_well_formed_email(value):
        problems.append(FieldProblem(path, "Invalid e-mail address"))


def _phone(value: Any, path: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, str):
        problems.append(FieldProblem(path, "Must be a string"))
    elif not PHONE_E164.match(value):
        problems.append(FieldProblem(path, "Phone number must be in E.164 format, e.g. +33612345678"))


def _postal_code(value: Any, path: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, str):
        problems.append(FieldProblem(path, "Must be a string"))
    elif not POSTAL_CODE_PATTERN.match(value):
        problems.append(FieldProblem(path, "Postal code must be 5 digits"))


def _meter_point(label: str) -> Check:
    def check(value: Any, path: str, problems: list[FieldProblem]) -> None:
        if not isinstance(value, str):
            problems.append(FieldProblem(path, "Must be a string"))
        elif not PDL_PATTERN.match(value):
            problems.append(FieldProblem(path, f"{label} must be 14 digits"))

    return check


def _datetime(value: Any, path: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, str):
        problems.append(FieldProblem(path, "Must be a string"))
        return
    if ISO_DATETIME.match(value):
        try:
            datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
            return
        except ValueError:
            pass
    problems.append(FieldProblem(path, "Must be an ISO-8601 date-time with a time zone, e.g. 2025-03-25T11:30:00Z"))


def _url(value: Any, path: str, problems: list[FieldProblem]) -> None:
    if not isinstance(value, str):
        problems.append(FieldProblem(path, "Must be a string"))
    elif len(value) > MAX_URL_LENGTH or not HTTP_URL.match(value):
        problems.append(FieldProblem(path, "Must be an http(s) URL"))


def _quantity(value: Any, path: str, problems: list[FieldProblem]) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(FieldProblem(path, "Must be an integer"))
    elif not 1 <= value <= 10_000:
        problems.append(FieldProblem(path, "Must be between 1 and 10000"))


def _coordinate(limit: float) -> Check:
    def check(value: Any, path: str, problems: list[FieldProblem]) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            problems.append(FieldProblem(path, "Must be a number"))
        elif not -limit <= value <= limit:
            problems.append(FieldProblem(path, f"Must be between -{limit:g} and {limit:g}"))

    return check


def _one_of(allowed: tuple[str, ...]) -> Check:
    def check(value: Any, path: str, problems: list[FieldProblem]) -> None:
        if not isinstance(value, str):
            problems.append(FieldProblem(path, "Must be a string"))
        elif value not in allowed:
            problems.append(FieldProblem(path, f"Must be one of: {', '.join(allowed)}"))

    return check


class ObjectRule:
    """The fields of a JSON object: which are required, and how each is checked.

    :param required: field name to check, for fields that must be present.
    :param optional: field name to check, for fields that may be absent (``null`` counts as absent).
    """

    def __init__(self, required: dict[str, Rule], optional: dict[str, Rule] | None = None) -> None:
        self.required = required
        self.optional = optional or {}

    def __call__(self, value: Any, path: str, problems: list[FieldProblem], *, reject_unknown: bool) -> None:
        """Check a value against the rule, appending one problem per bad field.

        :param value: the value to check.
        :param path: its dotted path (empty for the body itself).
        :param problems: where problems are appended.
        :param reject_unknown: whether fields the rule does not define are problems.
        """
        if not isinstance(value, dict):
            problems.append(FieldProblem(path or "body", "Must be an object"))
            return
        for name, check in self.required.items():
            if value.get(name) is None:
                problems.append(FieldProblem(_join(path, name), "Field required"))
            else:
                _apply(check, value[name], _join(path, name), problems, reject_unknown)
        for name, check in self.optional.items():
            if value.get(name) is not None:
                _apply(check, value[name], _join(path, name), problems, reject_unknown)
        if reject_unknown:
            for name in value:
                if name not in self.required and name not in self.optional:
                    problems.append(FieldProblem(_join(path, str(name)), "Unknown field"))


class ListRule:
    """A JSON array whose items all follow one rule.

    :param item: the rule of each item.
    :param min_items: the fewest items allowed.
    """

    def __init__(self, item: ObjectRule, min_items: int = 0) -> None:
        self.item = item
        self.min_items = min_items

    def __call__(self, value: Any, path: str, problems: list[FieldProblem], *, reject_unknown: bool) -> None:
        """Check a value against the rule, appending one problem per bad field.

        :param value: the value to check.
        :param path: its dotted path.
        :param problems: where problems are appended.
        :param reject_unknown: whether fields the item rule does not define are problems.
        """
        if not isinstance(value, list):
            problems.append(FieldProblem(path, "Must be an array"))
            return
        if len(value) < self.min_items:
            problems.append(FieldProblem(path, f"Must contain at least {self.min_items} item(s)"))
        if len(value) > MAX_LIST_LENGTH:
            problems.append(FieldProblem(path, f"Must contain at most {MAX_LIST_LENGTH} items"))
            return
        for index, item in enumerate(value):
            self.item(item, f"{path}[{index}]", problems, reject_unknown=reject_unknown)


#: How a field is checked: a plain check, or a nested object or array rule.
Rule = Check | ObjectRule | ListRule


def _apply(check: Rule, value: Any, path: str, problems: list[FieldProblem], reject_unknown: bool) -> None:
    if isinstance(check, ObjectRule | ListRule):
        check(value, path, problems, reject_unknown=reject_unknown)
    else:
        check(value, path, problems)


DOCUMENT = ObjectRule({"type": _one_of(DOCUMENT_TYPES), "name": _text, "url": _url})
PHOTO = ObjectRule(
    {
        "type": _one_of(PHOTO_TYPES),
        "url": _url,
        "coordinates": ObjectRule({"latitude": _coordinate(90), "longitude": _coordinate(180)}),
        "timestamp": _datetime,
    }
)
CREATE_INTERVENTION = ObjectRule(
    required={
        "customer": ObjectRule({"first_name": _text, "last_name": _text, "email": _email, "phone": _phone}),
        "installation": ObjectRule(
            required={"address": _text, "postal_code": _postal_code, "city": _text},
            optional={"pdl": _meter_point("PDL"), "pce": _meter_point("PCE")},
        ),
        "installer": ObjectRule({"id": _text, "company_id": _text, "name": _text}),
        "completion_date": _datetime,
        "external_id": lambda value, path, problems: _text(value, path, problems, max_length=100),
    },
    optional={
        "services": ListRule(ObjectRule({"code": _text, "name": _text, "quantity": _quantity})),
        "equipment": ListRule(
            ObjectRule(
                required={"name": _text, "quantity": _quantity},
                optional={"model": _text, "serial_number": _text},
            )
        ),
        "documents": ListRule(DOCUMENT),
        "photos": ListRule(PHOTO),
    },
)
# The document's PATCH shows ``documents`` only: photos are not patchable (refused by name below).
UPDATE_INTERVENTION = ObjectRule(required={}, optional={"documents": ListRule(DOCUMENT, min_items=1)})
# Emptiness and postal code format are the lookup's business (it answers 404 for them), not validation's.
PDL_LOOKUP = ObjectRule(
    {
        "address": ObjectRule({"street": _string, "postal_code": _string, "city": _string}),
        "customer_name": _string,
    }
)


def validate_create_intervention(body: Any, *, reject_unknown: bool) -> list[FieldProblem]:
    """Check the body of ``POST /crm/interventions``.

    Beyond field shapes: ``installation.pdl`` is required unless ``installation.pce`` is given.

    :param body: the parsed JSON body.
    :param reject_unknown: whether fields the document does not define are problems.
    :return: one problem per bad field (empty when the body is valid).
    """
    problems: list[FieldProblem] = []
    CREATE_INTERVENTION(body, "", problems, reject_unknown=reject_unknown)
    if isinstance(body, dict):
        installation = body.get("installation")
        if isinstance(installation, dict) and installation.get("pdl") is None and installation.get("pce") is None:
            problems.append(FieldProblem("installation.pdl", "Field required (unless installation.pce is given)"))
    return problems


def validate_update_intervention(body: Any, *, reject_unknown: bool) -> list[FieldProblem]:
    """Check the body of ``PATCH /crm/interventions/{id}``: documents to add (photos are refused).

    :param body: the parsed JSON body.
    :param reject_unknown: whether fields the document does not define are problems.
    :return: one problem per bad field (empty when the body is valid).
    """
    problems: list[FieldProblem] = []
    if isinstance(body, dict) and "photos" in body:
        problems.append(FieldProblem("photos", "Photos cannot be updated: a PATCH adds documents only"))
        body = {key: value for key, value in body.items() if key != "photos"}
    UPDATE_INTERVENTION(body, "", problems, reject_unknown=reject_unknown)
    if isinstance(body, dict) and not problems and body.get("documents") is None:
        problems.append(FieldProblem("documents", "Field required (nothing to update)"))
    return problems


def validate_pdl_lookup(body: Any, *, reject_unknown: bool) -> list[FieldProblem]:
    """Check the body of ``POST /validation/pdl/lookup``: an address and a customer name.

    :param body: the parsed JSON body.
    :param reject_unknown: whether fields the document does not define are problems.
    :return: one problem per bad field (empty when the body is valid).
    """
    problems: list[FieldProblem] = []
    PDL_LOOKUP(body, "", problems, reject_unknown=reject_unknown)
    return problems
