"""Typed results of the six Symphonics operations.

Answers that are expected outcomes of a question (an invalid PDL, an unknown user, an intervention that
already exists) are results, not exceptions: the pipeline branches on them every day. Each result keeps the
reply's JSON in ``raw`` so a field the partner adds later is not lost.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


@dataclass(frozen=True)
class Address:
    """A postal address as Symphonics returns it."""

    street: str | None
    postal_code: str | None
    city: str | None

    @classmethod
    def from_json(cls, data: Any) -> Address | None:
        """Build from the reply's ``address`` object (``None`` when absent or not an object)."""
        if not isinstance(data, dict):
            return None
        return cls(street=_text(data, "street"), postal_code=_text(data, "postal_code"), city=_text(data, "city"))


@dataclass(frozen=True)
class PdlValidation:
    """Result of ``validate_pdl``: ``valid`` is False for a PDL the partner refuses (its 400 reply)."""

    valid: bool
    pdl: str
    address: Address | None = None
    meter_type: str | None = None
    error: str | None = None
    message: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, pdl: str, data: dict[str, Any]) -> PdlValidation:
        """Build from a 200 or 400 reply of ``GET /validation/pdl/{pdl}``."""
        error = data.get("error")
        if isinstance(error, dict):  # the generic error format instead of the documented 400 body
            message = _text(error, "message")
            error = _text(error, "code")
        else:
            message = _text(data, "message")
        return cls(
            valid=bool(data.get("valid", False)),
            pdl=str(data.get("pdl") or pdl),
            address=Address.from_json(data.get("address")),
            meter_type=_text(data, "meter_type"),
            error=None if error is None else str(error),
            message=message,
            raw=data,
        )


@dataclass(frozen=True)
class PdlLookup:
    """Result of ``lookup_pdl``: ``found`` is False when the partner knows no PDL at that address (404)."""

    found: bool
    pdl: str | None = None
    confidence: float | None = None
    address: Address | None = None
    meter_type: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PdlLookup:
        """Build from a 200 reply of ``POST /validation/pdl/lookup``."""
        confidence = data.get("confidence")
        return cls(
            found=data.get("pdl") is not None,
            pdl=_text(data, "pdl"),
            confidence=None if confidence is None else float(confidence),
            address=Address.from_json(data.get("address")),
            meter_type=_text(data, "meter_type"),
            raw=data,
        )


@dataclass(frozen=True)
class UserValidation:
    """Result of ``validate_user``: ``exists`` is False for an unknown user (the partner's 404 reply)."""

    exists: bool
    user_id: str | None = None
    status: str | None = None
    message: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def active(self) -> bool:
        """Whether the user exists and is active."""
        return self.exists and self.status == "active"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UserValidation:
        """Build from a 200 or 404 reply of ``GET /validation/user/{email}``."""
        return cls(
            exists=bool(data.get("exists", False)),
            user_id=_text(data, "user_id"),
            status=_text(data, "status"),
            message=_text(data, "message"),
            raw=data,
        )


class CreateOutcome(enum.Enum):
    """How a create ended. None of them invites another create."""

    #: The partner created the intervention now (201).
    CREATED = "created"
    #: It existed already and the partner's 409 told us its id: as good as created.
    ALREADY_EXISTS = "already_exists"
    #: It exists (bare 409) but its id is unknown: complete it later from a webhook or the reconciliation.
    ALREADY_EXISTS_ID_UNKNOWN = "already_exists_id_unknown"


@dataclass(frozen=True)
class CreateResult:
    """Result of ``create_intervention``.

    :param outcome: see :class:`CreateOutcome`.
    :param symphonics_id: the partner's id; ``None`` only for ``ALREADY_EXISTS_ID_UNKNOWN``.
    :param external_id: our id as sent in the payload.
    """

    outcome: CreateOutcome
    symphonics_id: str | None
    external_id: str | None
    status: str | None = None
    created_at: str | None = None
    request_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class NextStep:
    """One of the ``next_steps`` of an intervention."""

    type: str | None
    status: str | None
    estimated_completion: str | None = None


@dataclass(frozen=True)
class Intervention:
    """Result of ``get_intervention``."""

    id: str
    external_id: str | None
    status: str | None
    created_at: str | None = None
    updated_at: str | None = None
    next_steps: tuple[NextStep, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, symphonics_id: str, data: dict[str, Any]) -> Intervention:
        """Build from a 200 reply of ``GET /crm/interventions/{id}``."""
        steps = data.get("next_steps") or []
        return cls(
            id=str(data.get("id") or symphonics_id),
            external_id=_text(data, "external_id"),
            status=_text(data, "status"),
            created_at=_text(data, "created_at"),
            updated_at=_text(data, "updated_at"),
            next_steps=tuple(
                NextStep(
                    type=_text(step, "type"),
                    status=_text(step, "status"),
                    estimated_completion=_text(step, "estimated_completion"),
                )
                for step in steps
                if isinstance(step, dict)
            ),
            raw=data,
        )


@dataclass(frozen=True)
class InterventionUpdate:
    """Result of ``update_intervention``."""

    id: str
    status: str | None
    external_id: str | None = None
    updated_at: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, symphonics_id: str, data: dict[str, Any]) -> InterventionUpdate:
        """Build from a 200 reply of ``PATCH /crm/interventions/{id}``."""
        return cls(
            id=str(data.get("id") or symphonics_id),
            status=_text(data, "status"),
            external_id=_text(data, "external_id"),
            updated_at=_text(data, "updated_at"),
            raw=data,
        )
