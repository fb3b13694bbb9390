"""Normalisers several areas share: a phone number to E.164, a PDL to its 14 digits, a PDL lookup's key.

Publishing builds payloads and cache keys with them, and the erasure finds a person's rows with the same
normal forms, so both must use one definition. Pure functions: no database, no network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import phonenumbers

PDL_DIGITS = re.compile(r"^[0-9]{14}$")


def normalise_phone(raw: str | None, region: str = "FR") -> str | None:
    """The phone number in E.164, or None when it does not parse to a valid number.

    ``06 12 34 56 78``, ``06.12.34.56.78``, ``0033612345678`` and ``+33 6 12 34 56 78`` all give
    ``+33612345678``.

    :param raw: the number as typed in the app.
    :param region: the region assumed for a national number.
    """
    if not raw or not raw.strip():
        return None
    text = raw.strip()
    if text.startswith("00"):
        # The international prefix typed as digits: phonenumbers reads it as national digits otherwise.
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_pdl(raw: str | None) -> str | None:
    """The PDL as 14 digits (spaces removed), or None when it is missing or malformed.

    :param raw: the PDL as typed in the app.
    """
    if raw is None:
        return None
    digits = "".join(raw.split())
    return digits if PDL_DIGITS.match(digits) else None


def lookup_address(installation: Mapping[str, Any]) -> dict[str, str]:
    """The ``address`` object of a PDL lookup.

    :param installation: the ``installation`` block of a source record.
    """
    return {
        "street": (installation.get("address") or "").strip(),
        "postal_code": (installation.get("postal_code") or "").strip(),
        "city": (installation.get("city") or "").strip(),
    }


def lookup_key(address: Mapping[str, str], customer_name: str) -> str:
    """The cache key of a lookup: the address and customer name, trimmed, spaces collapsed, lower-cased.

    :param address: the lookup's address object.
    :param customer_name: the customer's last name.
    """
    parts = [address["street"], address["postal_code"], address["city"], customer_name]
    return "|".join(" ".join(part.split()).lower() for part in parts)
