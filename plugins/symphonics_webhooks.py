"""Mounts the Symphonics webhook receiver on the api-server at ``/symphonics/webhooks`` (the demo's way).

Only glue: the receiver lives in ``include.symphonics.webhooks``. Nothing is read or connected at import; the
settings are resolved on the first webhook. The route gets no Airflow auth, which is right: the partner has no
Airflow login, and the HMAC signature is the authentication.

A deployment that runs the stand-alone receiver (compose) sets ``SYMPHONICS_WEBHOOKS_ON_API_SERVER=false``, so
the webhooks are received in one place only and the api-server carries no receiver of its own.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from include.symphonics.core.config import env_flag
from include.symphonics.webhooks import MountRootMiddleware, create_webhook_app

URL_PREFIX = "/symphonics/webhooks"
MOUNT_ENV = "SYMPHONICS_WEBHOOKS_ON_API_SERVER"
# An unreadable value stops the plugin from loading, with the setting named in Airflow's plugin errors.
MOUNTED = env_flag(MOUNT_ENV, default=True)


class SymphonicsWebhooksPlugin(AirflowPlugin):
    """The webhook receiver as a FastAPI sub-application of the api-server."""

    name = "symphonics_webhooks"
    # The base class declares these as plain list attributes; ClassVar would contradict it (mypy).
    fastapi_apps = (
        [{"app": create_webhook_app(close_at_exit=True), "url_prefix": URL_PREFIX, "name": "Symphonics webhooks"}]
        if MOUNTED
        else []
    )
    # POST /symphonics/webhooks (no slash) would otherwise be a 307 to the mount's root.
    fastapi_root_middlewares = (
        [
            {
                "middleware": MountRootMiddleware,
                "args": [],
                "kwargs": {"prefix": URL_PREFIX},
                "name": "Symphonics webhooks root",
            }
        ]
        if MOUNTED
        else []
    )
