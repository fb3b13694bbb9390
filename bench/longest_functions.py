"""Print the longest functions of the product (``include/``, ``dags/``, ``plugins/``): lines and branches.

Usage: ``.venv/bin/python bench/longest_functions.py [--top N] [DIR ...]``. A figure for reviews, not a test.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

_BRANCHES = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.Try, ast.With, ast.AsyncWith, ast.IfExp, ast.Match)


def functions(root: Path) -> list[tuple[int, int, str]]:
    """(lines, branches, file:line name) of every function under ``root``.

    :param root: a folder of Python files.
    """
    found = []
    for path in sorted(root.rglob("*.py")):
        if ".venv" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                branches = sum(isinstance(inner, _BRANCHES) for inner in ast.walk(node))
                found.append((lines, branches, f"{path}:{node.lineno} {node.name}"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("dirs", nargs="*", default=["include", "dags", "plugins"])
    args = parser.parse_args()
    everything = [found for folder in args.dirs for found in functions(Path(folder))]
    for lines, branches, where in sorted(everything, reverse=True)[: args.top]:
        print(f"{lines:5d} lines {branches:3d} branches  {where}")


if __name__ == "__main__":
    main()
