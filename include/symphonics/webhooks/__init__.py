"""The Symphonics webhook receiver: signature check, validation, deduplicated storage in the ``sync`` database.

Serve it stand-alone with ``python -m include.symphonics.webhooks --port N`` (production), or let the api-server
mount it through ``plugins/symphonics_webhooks.py`` (demo). See ``docs/WEBHOOKS.md``.
"""

from __future__ import annotations

from include.symphonics.webhooks.app import MountRootMiddleware, create_webhook_app
from include.symphonics.webhooks.settings import WebhookConfigurationError, WebhookSettings

__all__ = ["MountRootMiddleware", "WebhookConfigurationError", "WebhookSettings", "create_webhook_app"]
