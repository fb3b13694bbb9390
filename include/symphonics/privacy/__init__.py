"""Personal data in the ``sync`` database: minimised once a row is finished, removed after its retention, erased
on request (docs/PERSONAL_DATA.md). ``python -m include.symphonics.privacy erase`` is the erasure command."""

from __future__ import annotations
