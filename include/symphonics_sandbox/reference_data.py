"""The partner's reference data as deterministic rules: which PDLs exist, what lookups find, who exists.

The document gives a few test PDLs and e-mails; every other input follows a fixed rule written in
docs/SANDBOX.md, so the demo data generator and the pipeline tests can rely on the answer.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

PDL_PATTERN = re.compile(r"^[0-9]{14}$")
POSTAL_CODE_PATTERN = re.compile(r"^[0-9]{5}$")
HOUSE_NUMBER_PATTERN = re.compile(r"^\d+")
EMAIL_PATTERN = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
MAX_EMAIL_LENGTH = 254

#: The document's example address, answered for its test PDLs and its lookup example.
DOCUMENTED_ADDRESS = {"street": "123 Rue de Paris", "postal_code": "75001", "city": "Paris"}
DOCUMENTED_PDL = "12345678901234"

#: The document's test PDLs (the table under "Test PDL Numbers"); the last one is invalid.
TEST_PDLS = {
    "12345678901234": "residential",
    "23456789012345": "commercial",
    "34567890123456": "precarious",
}
INVALID_TEST_PDL = "45678901234567"

#: Fixed French streets an address is derived from, for PDLs outside the document's table.
_STREETS = (
    ("Rue de Rivoli", "75004", "Paris"),
    ("Avenue Jean Jaurès", "69007", "Lyon"),
    ("Rue Sainte-Catherine", "33000", "Bordeaux"),
    ("Boulevard de la Liberté", "59000", "Lille"),
    ("Rue de la République", "13001", "Marseille"),
    ("Avenue de la Gare", "31000", "Toulouse"),
    ("Rue du Général de Gaulle", "67000", "Strasbourg"),
    ("Place du Commerce", "44000", "Nantes"),
)

#: The document's test users (the table under "Test User Emails").
TEST_USERS: dict[str, tuple[str, str] | None] = {
    "test.user@example.com": ("usr_12345678", "active"),
    "inactive.user@example.com": ("usr_87654320", "inactive"),
    "nonexistent@example.com": None,
}


@dataclass(frozen=True)
class PdlAnswer:
    """What the partner answers for a PDL: valid with its data, or invalid with an error and message."""

    valid: bool
    body: dict[str, Any]


def meter_type_for(pdl: str) -> str:
    """The meter type of a PDL: ``electromechanical`` when it ends in 9, else ``electronic``.

    :param pdl: a 14-digit PDL.
    """
    return "electromechanical" if pdl.endswith("9") else "electronic"


def address_for_pdl(pdl: str) -> dict[str, str]:
    """The delivery address of a PDL, derived from its digits.

    :param pdl: a 14-digit PDL.
    """
    if pdl in TEST_PDLS:
        return dict(DOCUMENTED_ADDRESS)
    street, postal_code, city = _STREETS[int(pdl) % len(_STREETS)]
    house_number = int(pdl[-4:-1]) % 150 + 1
    return {"street": f"{house_number} {street}", "postal_code": postal_code, "city": city}


def check_pdl(pdl: str) -> PdlAnswer:
    """Validate a PDL the way the partner does.

    :param pdl: the PDL from the request path.
    """
    if not PDL_PATTERN.match(pdl):
        return PdlAnswer(
            valid=False,
            body={"valid": False, "error": "Invalid PDL format", "message": "PDL must be 14 digits"},
        )
    if pdl == INVALID_TEST_PDL or pdl.endswith("000"):
        return PdlAnswer(
            valid=False,
            body={
                "valid": False,
                "error": "Unknown PDL",
                "message": "No delivery point is registered under this PDL",
            },
        )
    return PdlAnswer(
        valid=True,
        body={"valid": True, "pdl": pdl, "address": address_for_pdl(pdl), "meter_type": meter_type_for(pdl)},
    )


def _normalise(text: str) -> str:
    return " ".join(text.split()).lower()


def pdl_for_address(street: str, postal_code: str, city: str) -> str:
    """The PDL a lookup finds at an address: ``1`` and 13 digits from the SHA-256 of the normalised address.

    The normalised address is ``street|postal_code|city`` with each part stripped, inner whitespace collapsed
    and lower-cased. The result never ends in ``000`` (such PDLs are unknown to the validation endpoint). The
    document's own example address answers the document's PDL.

    :param street: the street line, e.g. ``45 Rue des Fleurs``.
    :param postal_code: the 5-digit postal code.
    :param city: the city.
    """
    key = f"{_normalise(street)}|{postal_code.strip()}|{_normalise(city)}"
    if key == "123 rue de paris|75001|paris":
        return DOCUMENTED_PDL
    digest = int(hashlib.sha256(key.encode("utf-8")).hexdigest(), 16)
    pdl = "1" + f"{digest % 10**13:013d}"
    if pdl.endswith("000"):
        pdl = pdl[:-1] + "1"
    return pdl


def lookup_confidence(street: str) -> float:
    """The confidence of a lookup: 0.95 when the street starts with a house number, else 0.55.

    :param street: the street line as sent.
    """
    return 0.95 if HOUSE_NUMBER_PATTERN.match(street.strip()) else 0.55


def is_well_formed_email(email: str) -> bool:
    """Tell whether an e-mail address is well formed (RFC 5321 lengths, dot-atom local part, dotted domain).

    :param email: the address to check.
    """
    if len(email) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.match(email):
        return False
    return len(email.rsplit("@", 1)[0]) <= 64


def find_user(email: str) -> tuple[str, str] | None:
    """The ``(user_id, status)`` of the user with this e-mail, or None when there is no such user.

    :param email: a well-formed e-mail address (any case).
    """
    email = email.lower()
    if email in TEST_USERS:
        return TEST_USERS[email]
    local_part = email.split("@", 1)[0]
    if local_part.startswith(("unknown", "nonexistent")):
        return None
    user_id = "usr_" + hashlib.sha256(email.encode("utf-8")).hexdigest()[:8]
    return user_id, "inactive" if local_part.startswith("inactive") else "active"
