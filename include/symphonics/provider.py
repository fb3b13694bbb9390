"""The project's Airflow provider: what the ``apache_airflow_provider`` entry point of ``pyproject.toml`` returns.

Airflow's provider discovery calls :func:`get_provider_info` in every process that lists providers (the
api-server, the CLI): it imports this module, :mod:`include.symphonics.partner_settings` and
:mod:`include.symphonics.lineage` (the asset scheme's handlers, no Airflow import at load), never the client
or the hook. The connection form is declared as data (``conn-fields``, ``ui-field-behaviour``), which Airflow
3.2+ reads without importing the hook; the labels come from the settings model's table of extras.

:data:`PROVIDER_INFO` is a plain dict: another part of the provider (an asset URI scheme, a lineage
converter) is one more key.
"""

from __future__ import annotations

import copy
from typing import Any

from include.symphonics.lineage import ASSET_URIS
from include.symphonics.partner_settings import EXTRAS, PARTNER_CONN_TYPE

#: The distribution's name (``pyproject.toml``); Airflow checks the two agree.
PACKAGE_NAME = "symphonics-sync"
#: The hook, imported by Airflow only when a connection of the type is used or tested.
HOOK_CLASS_NAME = "include.symphonics.hook.SymphonicsHook"

#: The connection form's extra fields (masked when their schema's format is ``password``). Airflow 3.3's edit form
#: shows the fields whose key the stored extra holds (``null`` for "not set": ``airflow_settings.yaml`` lists them).
CONN_FIELDS: dict[str, dict[str, Any]] = {
    name: {"label": spec.label, "schema": dict(spec.schema), "description": spec.description}
    for name, spec in EXTRAS.items()
    if spec.in_form
}

PROVIDER_INFO: dict[str, Any] = {
    "package-name": PACKAGE_NAME,
    "name": "Symphonics",
    "description": "The Symphonics partner API: its connection type and its symphonics:// asset scheme with"
    " its OpenLineage converter (local provider of this project).",
    "versions": ["0.1.0"],
    "integrations": [{"integration-name": "Symphonics", "tags": ["service"]}],
    "hooks": [{"integration-name": "Symphonics", "python-modules": ["include.symphonics.hook"]}],
    "connection-types": [
        {
            "hook-class-name": HOOK_CLASS_NAME,
            "hook-name": "Symphonics",
            "connection-type": PARTNER_CONN_TYPE,
            "conn-fields": CONN_FIELDS,
            "ui-field-behaviour": {
                # The port stays: Airflow 3.3's Test button (connection list) sends port 0 for a connection
                # without one, which the api-server refuses as another endpoint ("Bad Request").
                "hidden-fields": ["schema"],
                "relabeling": {"host": "Base URL", "login": "Client ID", "password": "Client secret"},
                "placeholders": {
                    "host": "https://api.symphonics.fr",
                    "port": "443",
                    "login": "wfa-client-id",
                    "extra": '{"day_reset_utc": "00:00", "allow_insecure_http": false}',
                },
            },
        }
    ],
    "asset-uris": ASSET_URIS,
}


def get_provider_info() -> dict[str, Any]:
    """The provider's metadata, for Airflow's ``apache_airflow_provider`` entry point (a copy: callers may edit
    it)."""
    return copy.deepcopy(PROVIDER_INFO)
