"""The running sandbox: its configuration, state and background threads, shared by every request."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from include.symphonics_sandbox.calllog import CallLog
from include.symphonics_sandbox.config import SandboxConfig
from include.symphonics_sandbox.faults import FaultRegistry
from include.symphonics_sandbox.lifecycle import InterventionLifecycle
from include.symphonics_sandbox.ratelimit import FixedWindowLimiter
from include.symphonics_sandbox.state import StateStore
from include.symphonics_sandbox.webhooks import WebhookDispatcher

log = logging.getLogger(__name__)


class SandboxRuntime:
    """Everything a request may touch; one per app.

    The configuration is swapped whole on change (``config`` is read once per request), so readers never see
    half of a change.

    :param config: the start-up configuration (what a reset goes back to).
    """

    def __init__(self, config: SandboxConfig) -> None:
        self.start_config = config
        self.config = config
        self.started_at = time.time()
        self.store = StateStore(config.state_file)
        self.limiter = FixedWindowLimiter()
        self.faults = FaultRegistry(config.faults)
        self.calls = CallLog(config.call_log_size)
        self.webhooks = WebhookDispatcher(lambda: self.config)
        self.lifecycle = InterventionLifecycle(self.store, self.webhooks, lambda: self.config)
        self._background_lock = threading.Lock()
        self._ticker: threading.Thread | None = None
        self._stop_ticker = threading.Event()

    def ensure_background(self) -> None:
        """Start the lifecycle ticker and the webhook thread once (from the lifespan or the first request)."""
        if self._ticker is not None:
            return
        with self._background_lock:
            if self._ticker is None:
                self.webhooks.start()
                self._stop_ticker.clear()
                ticker = threading.Thread(target=self._tick_forever, name="sandbox-lifecycle", daemon=True)
                ticker.start()
                self._ticker = ticker

    def _tick_forever(self) -> None:
        while not self._stop_ticker.wait(self.config.ticker_interval):
            try:
                self.lifecycle.advance_all(time.time())
            except Exception:
                # The ticker must outlive a bad record; the error is for whoever reads the logs.
                log.exception("lifecycle tick failed")

    def shutdown(self) -> None:
        """Stop the background threads and close the state file."""
        with self._background_lock:
            self._stop_ticker.set()
            ticker, self._ticker = self._ticker, None
        if ticker is not None:
            ticker.join(timeout=5)
        self.webhooks.stop()
        self.store.close()

    def reconfigure(self, changes: dict[str, Any]) -> SandboxConfig:
        """Apply configuration changes at run time.

        Changing ``faults`` re-arms the start-up faults from the new value.

        :param changes: the keys to change.
        :raises ConfigError: on an unknown or start-up-only key, or an invalid value.
        """
        new_config = self.config.with_changes(changes, at_runtime=True)
        self.config = new_config
        if "faults" in changes:
            self.faults.reset(new_config.faults)
        return new_config

    def reset(self) -> None:
        """Back to start: no state, no calls, no counters, start-up faults and configuration."""
        self.config = self.start_config
        self.store.clear()
        self.calls.clear()
        self.limiter.reset()
        self.faults.reset(self.start_config.faults)
        self.webhooks.reset()
