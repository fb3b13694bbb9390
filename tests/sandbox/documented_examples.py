"""The request and response samples of the partner's document, as Python data, for the sandbox tests."""

from __future__ import annotations

import copy
from typing import Any

TOKEN_RESPONSE_KEYS = {"access_token", "token_type", "expires_in"}

PDL_VALID_RESPONSE = {
    "valid": True,
    "pdl": "12345678901234",
    "address": {"street": "123 Rue de Paris", "postal_code": "75001", "city": "Paris"},
    "meter_type": "electronic",
}
PDL_INVALID_RESPONSE = {"valid": False, "error": "Invalid PDL format", "message": "PDL must be 14 digits"}

PDL_LOOKUP_REQUEST = {
    "address": {"street": "123 Rue de Paris", "postal_code": "75001", "city": "Paris"},
    "customer_name": "Martin",
}
PDL_LOOKUP_RESPONSE = {
    "pdl": "12345678901234",
    "confidence": 0.95,
    "address": {"street": "123 Rue de Paris", "postal_code": "75001", "city": "Paris"},
    "meter_type": "electronic",
}

USER_FOUND_RESPONSE = {"exists": True, "user_id": "usr_12345678", "status": "active"}
USER_NOT_FOUND_RESPONSE = {"exists": False, "message": "User not found"}

_CREATE_REQUEST: dict[str, Any] = {
    "customer": {
        "first_name": "Thomas",
        "last_name": "Martin",
        "email": "thomas.martin@example.com",
        "phone": "+33612345678",
    },
    "installation": {
        "address": "45 Rue des Fleurs",
        "postal_code": "75015",
        "city": "Paris",
        "pdl": "12345678901234",
        "pce": "98765432109876",
    },
    "services": [{"code": "BAR-TH-173", "name": "Régulateur de ballon d'eau chaude", "quantity": 1}],
    "equipment": [{"name": "Régulateur Thaléos", "model": "RT-2000", "serial_number": "TH2023456789", "quantity": 1}],
    "documents": [
        {
            "type": "invoice",
            "name": "Facture - Thomas Martin - 25/03/2025",
            "url": "https://app.workforce-automation.com/documents/int_12345678/invoice.pdf",
        },
        {
            "type": "attestation_honneur",
            "name": "Attestation d'Honneur - Thomas Martin - 25/03/2025",
            "url": "https://app.workforce-automation.com/documents/int_12345678/ah.pdf",
        },
        {
            "type": "contract",
            "name": "Contrat Symphonics - Thomas Martin - 25/03/2025",
            "url": "https://app.workforce-automation.com/documents/int_12345678/contract.pdf",
        },
    ],
    "photos": [
        {
            "type": "before",
            "url": "https://app.workforce-automation.com/photos/int_12345678/before_1.jpg",
            "coordinates": {"latitude": 48.856614, "longitude": 2.352222},
            "timestamp": "2025-03-25T10:30:00Z",
        },
        {
            "type": "after",
            "url": "https://app.workforce-automation.com/photos/int_12345678/after_1.jpg",
            "coordinates": {"latitude": 48.856614, "longitude": 2.352222},
            "timestamp": "2025-03-25T11:15:00Z",
        },
    ],
    "installer": {"id": "usr_87654321", "company_id": "cmp_12345678", "name": "Jean Dupont"},
    "completion_date": "2025-03-25T11:30:00Z",
    "external_id": "int_12345678",
}

UPDATE_REQUEST = {
    "documents": [
        {
            "type": "additional_proof",
            "name": "Preuve supplémentaire - Thomas Martin - 26/03/2025",
            "url": "https://app.workforce-automation.com/documents/int_12345678/additional_proof.pdf",
        }
    ]
}

STATUS_UPDATE_EVENT_KEYS = {"intervention_id", "external_id", "previous_status", "new_status", "notes"}
DOCUMENT_VERIFICATION_EVENT_KEYS = {
    "intervention_id",
    "external_id",
    "document_type",
    "verification_status",
    "notes",
}


def create_request(external_id: str | None = None, **changes: Any) -> dict[str, Any]:
    """The document's create body (a fresh copy), with another external id and top-level changes.

    :param external_id: the external id (default: the document's).
    :param changes: top-level keys to replace.
    """
    body = copy.deepcopy(_CREATE_REQUEST)
    if external_id is not None:
        body["external_id"] = external_id
    body.update(copy.deepcopy(changes))
    return body
