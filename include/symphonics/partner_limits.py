"""The partner's documented limits per client id (``symphonics-api.md``, "Rate limits"), written here once.

A leaf module, importing nothing: the client, the settings model of the connection and the provider info all
read it, and the provider info is loaded by Airflow's provider discovery, which must not import the client.
"""

from __future__ import annotations

#: Requests per minute the partner accepts from one client id.
REQUESTS_PER_MINUTE = 100
#: Requests per day the partner accepts from one client id.
REQUESTS_PER_DAY = 5000
