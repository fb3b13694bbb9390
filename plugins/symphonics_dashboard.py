"""The Symphonics ops dashboard in the Airflow UI: the app at ``/symphonics/dashboard/``, shown as an external view.

Only glue: the app and its figures live in ``include.symphonics.dashboard``. Every route of the app requires an
Airflow login (a plugin's routes get none unless they ask for the user; this one's router asks, see its
``routes.py`` and ``auth.py``).
Nothing is read or connected at import: the ``sync`` database and the limits are resolved on the first request.
The UI renders the view inside its own page at ``/plugin/symphonics-dashboard``.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from include.symphonics.dashboard import create_dashboard_app

URL_PREFIX = "/symphonics/dashboard"
URL_ROUTE = "symphonics-dashboard"


class SymphonicsDashboardPlugin(AirflowPlugin):
    """The ops dashboard: a FastAPI sub-application and the UI's external view of it."""

    name = "symphonics_dashboard"
    # The base class declares these as plain list attributes; ClassVar would contradict it (mypy).
    fastapi_apps = [  # noqa: RUF012
        {"app": create_dashboard_app(), "url_prefix": URL_PREFIX, "name": "Symphonics ops dashboard"}
    ]
    external_views = [  # noqa: RUF012
        {
            # The sidebar gives a label about 56 px: a longer name is cut ("Symphoni…"); the page says the rest.
            "name": "Symphonics",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": URL_ROUTE,
        }
    ]
