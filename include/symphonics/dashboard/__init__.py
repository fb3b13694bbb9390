"""The ops dashboard shown inside the Airflow UI: figures from the ``sync`` database, served by a FastAPI app.

:func:`create_dashboard_app` builds the app the plugin mounts; :mod:`.queries` reads the figures.
"""

from __future__ import annotations

from include.symphonics.dashboard.app import create_dashboard_app

__all__ = ["create_dashboard_app"]
