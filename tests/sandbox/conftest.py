"""Fixtures of the sandbox suite (the shared sandbox fixtures come from ``tests/fixtures/sandbox.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.sandbox import SandboxAdmin
from tests.sandbox.partner import PartnerCaller


@pytest.fixture
def partner(sandbox: SandboxAdmin) -> Iterator[PartnerCaller]:
    """A caller of the partner routes, authenticated as the demo client."""
    caller = PartnerCaller(sandbox)
    try:
        yield caller
    finally:
        caller.http.close()
