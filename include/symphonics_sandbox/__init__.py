"""A faithful local server of the Symphonics partner API, written from the partner's document alone.

It serves the documented endpoints with their documented shapes, rate limits, token expiry, intervention
lifecycle and signed webhooks, and lets tests inject the faults production will bring (5xx bursts, 429 storms,
latency, hangs, a connection dropped after a committed create, revoked tokens) through an admin API under
``/_sandbox``. It shares no code with the project's Symphonics client on purpose: a bug both shared would pass
every test. See ``docs/SANDBOX.md``.
"""

from __future__ import annotations

from include.symphonics_sandbox.app import create_app
from include.symphonics_sandbox.config import SandboxConfig, load_config

__all__ = ["SandboxConfig", "create_app", "load_config"]
