"""The local stand-ins beside the product: their old entry points still run them for one release, saying where they
moved; the sandbox imports nothing of the product."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.sandbox import REPO_ROOT


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("include.symphonics.sandbox", "include.symphonics_sandbox"),
        ("include.symphonics.demo", "include.symphonics_demo"),
        ("include.symphonics.devstack", "include.symphonics_devstack"),
    ],
)
def test_the_old_module_runs_the_new_one(old: str, new: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", old, "--help"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"usage: python -m {new}" in result.stdout  # the new module's own command line answered
    assert f"{old} moved to {new}" in result.stderr


def _imported_modules(package: Path) -> set[str]:
    modules: set[str] = set()
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module)
            elif isinstance(node, ast.Import):
                modules.update(alias.name for alias in node.names)
    return modules


def test_the_sandbox_shares_no_code_with_the_product() -> None:
    imported = _imported_modules(REPO_ROOT / "include" / "symphonics_sandbox")
    assert "include.symphonics_sandbox.app" in imported  # the walk sees the package's own imports
    assert sorted(m for m in imported if m == "include.symphonics" or m.startswith("include.symphonics.")) == []
