"""The README's architecture drawing shows every area of the product (a new area must be drawn)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_architecture_drawing_names_every_area_of_the_product() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Architecture", 1)[1]
    drawing = section.split("```", 2)[1]
    areas = {path.name for path in (ROOT / "include" / "symphonics").iterdir() if any(path.glob("*.py"))}
    assert areas >= {"publish", "reconcile", "privacy", "dashboard", "webhooks", "client", "core"}
    assert {area for area in areas if not re.search(rf"\b{area}/", drawing)} == set()
