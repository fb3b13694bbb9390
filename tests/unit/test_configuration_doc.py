"""``docs/CONFIGURATION.md`` lists every setting the code reads, each once."""

from __future__ import annotations

import re
from pathlib import Path

from include.symphonics.partner_settings import EXTRAS

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "CONFIGURATION.md").read_text()


def _variables_read_by_the_code() -> set[str]:
    names: set[str] = set()
    for folder in ("include", "dags", "plugins"):
        for path in (ROOT / folder).rglob("*.py"):
            names.update(re.findall(r"[\"'](SYMPHONICS_[A-Z0-9_]*[A-Z0-9])[\"']", path.read_text()))
    return names


def _first_cells() -> list[str]:
    return [line.split("|")[1] for line in DOC.splitlines() if line.startswith("| ") and not line.startswith("|--")]


def test_every_environment_variable_of_the_code_is_documented_once() -> None:
    names = _variables_read_by_the_code()
    assert len(names) > 40  # the scan finds them
    documented = {name: len(re.findall(rf"`{name}`", DOC)) for name in names}
    assert [name for name, count in documented.items() if count == 0] == []
    rows = _first_cells()
    assert [name for name in names if sum(f"`{name}`" in cell for cell in rows) > 1] == []


def test_every_extra_of_the_connection_is_documented_once() -> None:
    rows = _first_cells()
    for name in EXTRAS:
        assert sum(f"`{name}`" in cell for cell in rows) == 1, name


def test_one_precedence_rule() -> None:
    assert DOC.count("## One precedence rule") == 1
