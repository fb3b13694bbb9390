"""Faker-made pools of French names and streets, built once per data set and then sampled with ``random``.

Calling Faker per row would cost minutes at a million interventions; a few thousand entries made once, then
picked from with a seeded :class:`random.Random`, look as varied and cost nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from faker import Faker

# Local parts the partner's sandbox reads as "inactive" / "does not exist": only the defect installers may
# have them, so a real name must never produce one by chance.
RESERVED_EMAIL_PREFIXES: tuple[str, ...] = ("inactive", "unknown", "nonexistent")


def email_slug(text: str) -> str:
    """Fold a French name to the characters of an e-mail local part ('Hélène Le Goff' -> 'helene-le-goff').

    :param text: a name with accents, spaces or apostrophes.
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")


@dataclass(frozen=True, slots=True)
class Person:
    """A first or last name with its e-mail form.

    :param name: as written.
    :param slug: as in an e-mail address.
    """

    name: str
    slug: str


@dataclass(frozen=True)
class NamePools:
    """Pools the row generator picks from.

    :param first_names: French first names.
    :param last_names: French family names.
    :param streets: street names without a house number ('rue des Lilas').
    """

    first_names: tuple[Person, ...]
    last_names: tuple[Person, ...]
    streets: tuple[str, ...]


def _unique(draw: Callable[[], str], attempts: int) -> list[str]:
    seen: dict[str, None] = {}
    for _ in range(attempts):
        value = draw()
        # COPY's text format would need escaping for these, and no name needs them.
        if "\t" in value or "\\" in value or "\n" in value:
            continue
        seen.setdefault(value, None)
    return list(seen)


def build_name_pools(seed: int) -> NamePools:
    """Draw the pools from Faker's fr_FR provider, deterministically for a seed (and a Faker version).

    :param seed: the data set's seed.
    """
    fake = Faker("fr_FR")
    fake.seed_instance(seed)
    first_names = [
        Person(name, email_slug(name))
        for name in _unique(fake.first_name, 3000)
        if not email_slug(name).startswith(RESERVED_EMAIL_PREFIXES)
    ]
    last_names = [
        Person(name, email_slug(name))
        for name in _unique(fake.last_name, 4000)
        if not email_slug(name).startswith(RESERVED_EMAIL_PREFIXES)
    ]
    # A street name must not start with a digit: the PDL lookup reads a leading number as the house number.
    streets = [street for street in _unique(fake.street_name, 4000) if not street[:1].isdigit()]
    return NamePools(first_names=tuple(first_names), last_names=tuple(last_names), streets=tuple(streets))
