"""``python -m include.symphonics.devstack``: the deprecated alias of ``python -m include.symphonics_devstack``."""

from __future__ import annotations

import runpy
import sys

NEW_MODULE = "include.symphonics_devstack"

print(f"include.symphonics.devstack moved to {NEW_MODULE}: this alias goes in the next release", file=sys.stderr)
runpy.run_module(NEW_MODULE, run_name="__main__", alter_sys=True)
