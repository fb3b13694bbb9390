"""The demo tests each work in a fresh scratch database (see ``make_scratch_database`` in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest


@pytest.fixture
def app_dsn(make_scratch_database: Callable[[], str]) -> str:
    """URL of one empty scratch database, standing in for the app's database."""
    return make_scratch_database()
