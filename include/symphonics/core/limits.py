"""The partner's documented limits per client id (``symphonics-api.md``, "Rate limits") and our default split of
the day between the priority classes, written here once.

A leaf module, importing nothing: the client, the settings model of the connection and the provider info all
read it, and the provider info is loaded by Airflow's provider discovery, which must not import the client.
"""

from __future__ import annotations

#: Requests per minute the partner accepts from one client id.
REQUESTS_PER_MINUTE = 100
#: Requests per day the partner accepts from one client id.
REQUESTS_PER_DAY = 5000

#: The most of the day each priority class may use, by default: publishing most, reconciliation a bounded part,
#: ops (health checks) a little.
PRIORITY_SHARES: dict[str, float] = {"publish": 0.75, "reconcile": 0.40, "ops": 0.10}
#: The part of the day the other classes leave to a class, by default.
PRIORITY_RESERVES: dict[str, float] = {"ops": 0.02}
