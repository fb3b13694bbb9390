"""Deprecated alias, kept for one release: ``python -m include.symphonics.demo`` runs
``python -m include.symphonics_demo``.

The demo data generator (a local stand-in for the app's data) is not product code: it lives beside the product
package, in ``include/symphonics_demo/``, so the layout shows what runs in production. Use the new name.
"""

from __future__ import annotations

import runpy
import sys

NEW_MODULE = "include.symphonics_demo"

if __name__ == "__main__":
    print(f"include.symphonics.demo moved to {NEW_MODULE}: this alias goes in the next release", file=sys.stderr)
    runpy.run_module(NEW_MODULE, run_name="__main__", alter_sys=True)
