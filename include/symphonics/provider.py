"""The project's Airflow provider, as the ``apache_airflow_provider`` entry point of ``pyproject.toml`` registers it.

Minimal: the ``symphonics://`` asset scheme (its handler, factory and OpenLineage converter, in
``include/symphonics/lineage.py``).
Imported by Airflow's providers manager in every component, so it imports nothing of the client or of Airflow.
"""

from __future__ import annotations

from typing import Any


def get_provider_info() -> dict[str, Any]:
    """Provider metadata read by Airflow's providers manager."""
    from include.symphonics.lineage import ASSET_URIS

    return {
        "package-name": "symphonics-sync",
        "name": "Symphonics",
        "description": "The Symphonics sync's own provider: the symphonics:// asset scheme and its lineage.",
        "versions": ["0.1.0"],
        "asset-uris": ASSET_URIS,
    }
