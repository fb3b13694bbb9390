"""The import picture of the product: a ground floor that imports nothing above it, and no upward import.

``include/symphonics/core/`` holds the vocabulary several areas speak (the ledger's states, metrics, redaction,
the quota policy, the normalisers, the personal-data markers); ``sql`` and ``db`` sit beside it. Every area
imports them, never a neighbour's copy, and the dashboard reaches the partner only through the database.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PRODUCT = Path(__file__).resolve().parents[2] / "include" / "symphonics"
#: The ground floor: what each of these may import from the product.
GROUND = {"core": set(), "sql": set(), "db": {"core", "sql"}}


def _imports(path: Path) -> set[str]:
    """The product modules ``path`` imports (at any depth: lazy imports count too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("include.symphonics."):
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.module == "include.symphonics":
            found.update(f"include.symphonics.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("include.symphonics."))
    return found


def _area(module: str) -> str:
    return module.split(".")[2]


def _modules(area: str) -> list[Path]:
    folder = PRODUCT / area
    paths = folder.rglob("*.py") if folder.is_dir() else [PRODUCT / f"{area}.py"]
    return [p for p in paths if "versions" not in p.parts]


@pytest.mark.parametrize("area", sorted(GROUND))
def test_the_ground_floor_imports_nothing_above_it(area: str) -> None:
    upward = {
        f"{path.relative_to(PRODUCT)} -> {module}"
        for path in _modules(area)
        for module in _imports(path)
        if _area(module) not in {area, *GROUND[area]}
    }
    assert upward == set()


def test_the_dashboard_imports_nothing_from_the_client() -> None:
    reaching = {
        f"{path.relative_to(PRODUCT)} -> {module}"
        for path in _modules("dashboard")
        for module in _imports(path)
        if _area(module) in {"client", "hook"}
    }
    assert reaching == set()


def test_no_area_borrows_a_neighbours_sql_wrapper() -> None:
    borrowing = {
        f"{path.relative_to(PRODUCT)} -> {module}"
        for path in PRODUCT.rglob("*.py")
        for module in _imports(path)
        if module.endswith(".sqlfiles") and _area(module) != path.relative_to(PRODUCT).parts[0].removesuffix(".py")
    }
    assert borrowing == set()


def test_publish_and_privacy_do_not_import_each_others_rules() -> None:
    tied = {
        f"{path.relative_to(PRODUCT)} -> {module}"
        for area, other in (("publish", "privacy.fields"), ("privacy", "publish"))
        for path in _modules(area)
        for module in _imports(path)
        if module.startswith(f"include.symphonics.{other}")
    }
    assert tied == set()


def test_one_sql_loader_reads_the_sql_files() -> None:
    """Only ``include/symphonics/sql/__init__.py`` opens a ``.sql`` file; every area asks its ``SqlFolder``."""
    loader = PRODUCT / "sql" / "__init__.py"
    reading = {
        str(path.relative_to(PRODUCT.parent))
        for path in PRODUCT.parent.rglob("*.py")
        if path != loader and re.search(r"\.sql\b", text := path.read_text()) and re.search(r"read_text|open\(", text)
    }
    assert reading == set()
