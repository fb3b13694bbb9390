"""Fixtures of the privacy tests: the publish and reconciliation worlds (seeded app, sandbox, ledger)."""

from __future__ import annotations

from tests.reconcile.conftest import *  # noqa: F403
