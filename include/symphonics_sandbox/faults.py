"""Injected faults: what production will bring, on demand.

Each kind is armed per route selector (``"*"``, a route name, or a dotted prefix such as ``"crm"``):

- ``error_rate``: each call fails with a 5xx with the given probability (seeded, so runs repeat);
- ``burst``: the next N calls fail with a 5xx;
- ``storm_429``: the next N calls answer 429 ``RATE_LIMITED`` with ``Retry-After`` (any length), with or without
  the ``X-RateLimit-*`` headers;
- ``latency``: every call waits the given real seconds first;
- ``hang``: the next N calls (or every call) wait the given real seconds, or until the client hangs up;
- ``drop_after_commit``: the next N creates are committed, then the connection is closed with no response;
- ``forbidden``: the next N calls (or every call) about one resource answer 403 ``FORBIDDEN`` ("the
  authenticated user lacks permission"): a create by its ``external_id``, a GET or PATCH by the intervention's
  id, a PDL validation by its PDL, a user validation by its e-mail.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from include.symphonics_sandbox.config import FaultConfig
from include.symphonics_sandbox.routes import CREATE_INTERVENTION_ROUTE, selector_matches

FAULT_KINDS = ("error_rate", "burst", "storm_429", "latency", "hang", "drop_after_commit", "forbidden")


@dataclass
class FaultPlan:
    """What the faults decided for one call.

    :param latency: real seconds to wait before answering.
    :param hang: real seconds to hang (0: no hang).
    :param error_status: a 5xx to answer instead of the real answer, if any.
    :param storm_retry_after: when set, answer 429 with this ``Retry-After``.
    :param storm_rate_headers: the storm's 429 carries ``X-RateLimit-*`` too (else ``Retry-After`` alone).
    :param drop_after_commit: commit, then close the connection with no response.
    :param kinds: the fault kinds involved, for the call log.
    """

    latency: float = 0.0
    hang: float = 0.0
    error_status: int | None = None
    storm_retry_after: int | None = None
    storm_rate_headers: bool = True
    drop_after_commit: bool = False
    kinds: list[str] = field(default_factory=list)


@dataclass
class _Countdown:
    remaining: int | None  # None: every call
    value: float
    rate_headers: bool = True  # a storm's: whether its 429 carries the X-RateLimit-* headers


class FaultRegistry:
    """The armed faults, thread-safe; ``plan_for`` is cheap when nothing is armed.

    :param start: the faults armed at start-up (and again on reset).
    """

    def __init__(self, start: FaultConfig) -> None:
        self._lock = threading.Lock()
        self._start = start
        self._arm_from(start)

    def _arm_from(self, start: FaultConfig) -> None:
        self._rng = random.Random(start.seed)  # noqa: S311 - fault dice, not cryptography
        self._error_rates: dict[str, tuple[float, int]] = {
            selector: (rate, start.error_status) for selector, rate in start.error_rate.items()
        }
        self._bursts: dict[str, _Countdown] = {
            selector: _Countdown(int(count), float(start.burst_status)) for selector, count in start.burst.items()
        }
        self._storms: dict[str, _Countdown] = {
            selector: _Countdown(int(count), float(start.storm_retry_after))
            for selector, count in start.storm_429.items()
        }
        self._latencies: dict[str, float] = dict(start.latency)
        self._hangs: dict[str, _Countdown] = {
            selector: _Countdown(None, seconds) for selector, seconds in start.hang.items()
        }
        self._drops = start.drop_after_commit
        self._forbidden: dict[str, _Countdown] = {}
        self._update_armed()

    def _update_armed(self) -> None:
        self._armed = bool(
            self._error_rates or self._bursts or self._storms or self._latencies or self._hangs or self._drops
        )
        self._any_forbidden = bool(self._forbidden)

    def reset(self, start: FaultConfig | None = None) -> None:
        """Disarm everything, then arm the start-up faults again.

        :param start: new start-up faults, or None to keep the current ones.
        """
        with self._lock:
            if start is not None:
                self._start = start
            self._arm_from(self._start)

    def clear(self) -> None:
        """Disarm every fault (start-up ones included)."""
        with self._lock:
            self._arm_from(FaultConfig())

    def arm(self, kind: str, route: str, params: dict[str, Any]) -> None:
        """Arm one fault.

        :param kind: one of :data:`FAULT_KINDS`.
        :param route: the route selector (ignored for ``drop_after_commit``, which only concerns creates).
        :param params: the kind's parameters, already validated: ``rate`` and ``status`` (error_rate),
            ``count`` and ``status`` (burst), ``count``, ``retry_after`` and ``rate_headers`` (storm_429), ``seconds``
            (latency), ``seconds`` and ``count`` (hang; count None means every call), ``count``
            (drop_after_commit), ``resource`` and ``count`` (forbidden; count None means every call).
        """
        with self._lock:
            if kind == "error_rate":
                self._error_rates[route] = (params["rate"], params["status"])
            elif kind == "burst":
                self._bursts[route] = _Countdown(params["count"], float(params["status"]))
            elif kind == "storm_429":
                self._storms[route] = _Countdown(
                    params["count"], float(params["retry_after"]), params.get("rate_headers", True)
                )
            elif kind == "latency":
                self._latencies[route] = params["seconds"]
            elif kind == "hang":
                self._hangs[route] = _Countdown(params["count"], params["seconds"])
            elif kind == "drop_after_commit":
                self._drops += params["count"]
            elif kind == "forbidden":
                self._forbidden[params["resource"]] = _Countdown(params["count"], 403.0)
            else:
                raise ValueError(f"unknown fault kind {kind!r}")
            self._update_armed()

    def snapshot(self) -> dict[str, Any]:
        """The armed faults, for ``GET /_sandbox/faults``."""
        with self._lock:
            return {
                "error_rate": {
                    sel: {"rate": rate, "status": status} for sel, (rate, status) in self._error_rates.items()
                },
                "burst": {sel: {"remaining": c.remaining, "status": int(c.value)} for sel, c in self._bursts.items()},
                "storm_429": {
                    sel: {"remaining": c.remaining, "retry_after": int(c.value), "rate_headers": c.rate_headers}
                    for sel, c in self._storms.items()
                },
                "latency": dict(self._latencies),
                "hang": {sel: {"remaining": c.remaining, "seconds": c.value} for sel, c in self._hangs.items()},
                "drop_after_commit": self._drops,
                "forbidden": {resource: {"remaining": c.remaining} for resource, c in self._forbidden.items()},
            }

    def forbids(self, resource: str) -> bool:
        """Whether a ``forbidden`` fault refuses this call about ``resource`` (consuming a counted one).

        :param resource: an ``external_id`` (create), an intervention id (GET, PATCH), a PDL or an e-mail.
        """
        if not self._any_forbidden:
            return False
        with self._lock:
            countdown = self._forbidden.get(resource)
            if countdown is None:
                return False
            if countdown.remaining is not None:
                countdown.remaining -= 1
                if countdown.remaining <= 0:
                    del self._forbidden[resource]
            self._update_armed()
            return True

    @staticmethod
    def _take(countdowns: dict[str, _Countdown], route: str) -> _Countdown | None:
        for selector, countdown in list(countdowns.items()):
            if selector_matches(route, selector):
                if countdown.remaining is not None:
                    countdown.remaining -= 1
                    if countdown.remaining <= 0:
                        del countdowns[selector]
                return countdown
        return None

    def plan_for(self, route: str) -> FaultPlan | None:
        """Decide the faults of one call to a partner route (consuming counted faults).

        A storm wins over a burst, a burst over a random error; latency and hang add to any of them.

        :param route: the partner route name.
        :return: the plan, or None when no fault applies.
        """
        if not self._armed:
            return None
        with self._lock:
            plan = FaultPlan()
            for selector, seconds in self._latencies.items():
                if selector_matches(route, selector):
                    plan.latency = max(plan.latency, seconds)
            if plan.latency:
                plan.kinds.append("latency")
            hang = self._take(self._hangs, route)
            if hang is not None:
                plan.hang = hang.value
                plan.kinds.append("hang")
            storm = self._take(self._storms, route)
            if storm is not None:
                plan.storm_retry_after = int(storm.value)
                plan.storm_rate_headers = storm.rate_headers
                plan.kinds.append("storm_429")
            else:
                burst = self._take(self._bursts, route)
                if burst is not None:
                    plan.error_status = int(burst.value)
                    plan.kinds.append("burst")
                else:
                    for selector, (rate, status) in self._error_rates.items():
                        if selector_matches(route, selector) and self._rng.random() < rate:
                            plan.error_status = status
                            plan.kinds.append("error_rate")
                            break
            if (
                route == CREATE_INTERVENTION_ROUTE
                and self._drops > 0
                and plan.error_status is None
                and plan.storm_retry_after is None
            ):
                self._drops -= 1
                plan.drop_after_commit = True
                plan.kinds.append("drop_after_commit")
            self._update_armed()
            return plan if plan.kinds else None
