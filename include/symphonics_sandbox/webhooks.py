"""Signed webhook deliveries: the documented events, POSTed from a background thread, retried with backoff.

The body is compact UTF-8 JSON, serialised once when the event happens, and its ``timestamp`` is the time of
the event, so a retry or a replay sent later carries the old timestamp, as a real sender's would. The
``X-Symphonics-Signature`` header is the lowercase hex HMAC-SHA256 of the exact body bytes under
``webhook_secret``, with no prefix.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from include.symphonics_sandbox.config import SandboxConfig

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Symphonics-Signature"
EVENT_TYPES = ("intervention.status_update", "document.verification")
#: Kinds of delivery: the event as it happened, or one of the test variants sent on request.
DELIVERY_KINDS = ("event", "duplicate", "replay", "bad_signature", "manual")
#: The key bad-signature deliveries are signed with instead of the shared secret.
WRONG_SECRET = "not-the-webhook-secret"  # noqa: S105 - deliberately wrong, for tests
_EVENT_HISTORY = 10_000


def sign(body: bytes, secret: str) -> str:
    """The ``X-Symphonics-Signature`` of a body: lowercase hex HMAC-SHA256 under the shared secret.

    :param body: the exact body bytes.
    :param secret: the webhook secret.
    """
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def iso_seconds(moment: float) -> str:
    """Format a Unix time as the document's timestamps are: ISO-8601, UTC, whole seconds, ``Z``.

    :param moment: Unix seconds.
    """
    return datetime.fromtimestamp(moment, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def event_body(event_type: str, data: dict[str, Any], occurred_at: float) -> bytes:
    """Serialise an event as the document shows it (``event``, ``timestamp``, ``data``; no event id).

    :param event_type: ``intervention.status_update`` or ``document.verification``.
    :param data: the event's ``data`` object.
    :param occurred_at: when the event happened (Unix seconds).
    """
    payload = {"event": event_type, "timestamp": iso_seconds(occurred_at), "data": data}
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class WebhookEvent:
    """An event that happened, whether or not it was delivered.

    :param event_id: the sandbox's own id (``evt_`` and a number); never sent, the document has none.
    :param event: the event type.
    :param intervention_id: the intervention it is about.
    :param occurred_at: when it happened (Unix seconds).
    :param body: the exact serialised body.
    """

    event_id: str
    event: str
    intervention_id: str
    occurred_at: float
    body: bytes

    def to_dict(self) -> dict[str, Any]:
        """Render for ``GET /_sandbox/webhooks/events``."""
        return {
            "event_id": self.event_id,
            "event": self.event,
            "intervention_id": self.intervention_id,
            "timestamp": iso_seconds(self.occurred_at),
            "payload": json.loads(self.body),
        }


@dataclass
class Delivery:
    """One POST of a body to the webhook URL, with its attempts.

    :param delivery_id: ``dlv_`` and a number.
    :param event_id: the event it carries.
    :param kind: one of :data:`DELIVERY_KINDS`.
    :param url: where it goes.
    :param body: the exact body bytes.
    :param signature: the signature header value sent.
    :param retry: whether failures are retried (not for bad signatures, which a receiver must refuse).
    :param outcome: ``pending``, ``delivered`` or ``failed`` (gave up).
    :param attempts: ``{"at", "status_code", "error"}`` per attempt.
    """

    delivery_id: str
    event_id: str
    kind: str
    url: str
    body: bytes
    signature: str
    retry: bool
    outcome: str = "pending"
    attempts: list[dict[str, Any]] = field(default_factory=list)
    next_attempt_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Render for ``GET /_sandbox/webhooks/deliveries``."""
        return {
            "delivery_id": self.delivery_id,
            "event_id": self.event_id,
            "kind": self.kind,
            "url": self.url,
            "signature": self.signature,
            "outcome": self.outcome,
            "attempts": list(self.attempts),
            "next_attempt_at": self.next_attempt_at,
            "payload": json.loads(self.body),
        }


class WebhookDispatcher:
    """Records events and delivers them from one background thread, oldest due first.

    :param config_source: returns the current configuration (URL, secret, retry policy, time scale).
    """

    def __init__(self, config_source: Callable[[], SandboxConfig]) -> None:
        self._config_source = config_source
        self._condition = threading.Condition()
        self._events: deque[WebhookEvent] = deque(maxlen=_EVENT_HISTORY)
        self._deliveries: dict[str, Delivery] = {}
        self._queue: list[tuple[float, int, str]] = []
        self._sequence = itertools.count(1)
        self._event_numbers = itertools.count(1)
        self._delivery_numbers = itertools.count(1)
        self._stopping = False
        self._thread: threading.Thread | None = None

    # --- lifecycle of the worker ----------------------------------------------------------------------

    def start(self) -> None:
        """Start the delivery thread (once)."""
        with self._condition:
            if self._thread is None:
                self._stopping = False
                self._thread = threading.Thread(target=self._deliver_forever, name="sandbox-webhooks", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Stop the delivery thread; pending deliveries stay pending."""
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout=5)

    def reset(self) -> None:
        """Forget every event and delivery, pending ones included."""
        with self._condition:
            self._events.clear()
            self._deliveries.clear()
            self._queue.clear()

    # --- events ------------------------------------------------------------------------------------

    def emit(self, event_type: str, data: dict[str, Any], occurred_at: float) -> WebhookEvent:
        """Record an event that happened, and deliver it when a webhook URL is configured.

        :param event_type: ``intervention.status_update`` or ``document.verification``.
        :param data: the event's ``data`` object.
        :param occurred_at: when it happened (Unix seconds).
        """
        event = WebhookEvent(
            event_id=f"evt_{next(self._event_numbers):06d}",
            event=event_type,
            intervention_id=str(data.get("intervention_id", "")),
            occurred_at=occurred_at,
            body=event_body(event_type, data, occurred_at),
        )
        config = self._config_source()
        with self._condition:
            self._events.append(event)
            if config.webhook_url is not None:
                self._enqueue(event, "event", config.webhook_url, event.body, config.webhook_secret, retry=True)
        return event

    def events(self) -> list[WebhookEvent]:
        """Every recorded event, oldest first."""
        with self._condition:
            return list(self._events)

    def find_event(self, event_id: str | None) -> WebhookEvent | None:
        """Find a recorded event by id; with None, the latest.

        :param event_id: the ``evt_`` id, or None.
        """
        with self._condition:
            if event_id is None:
                return self._events[-1] if self._events else None
            return next((event for event in self._events if event.event_id == event_id), None)

    def deliveries(self) -> list[Delivery]:
        """Every delivery, oldest first."""
        with self._condition:
            return list(self._deliveries.values())

    # --- test variants -------------------------------------------------------------------------------

    def send_variant(self, event: WebhookEvent, kind: str, url: str, *, age_seconds: float | None = None) -> Delivery:
        """Send a recorded event again, as a test variant.

        - ``duplicate``: the same body bytes and signature again (a sender's retry after a lost 2xx);
        - ``replay``: the same body again, or, with ``age_seconds``, the event re-stamped that many seconds
          in the past and signed correctly (a captured old message sent again);
        - ``bad_signature``: the same body signed with a wrong key; not retried.

        :param event: the recorded event.
        :param kind: ``duplicate``, ``replay`` or ``bad_signature``.
        :param url: where to send it.
        :param age_seconds: for ``replay``, how old the timestamp should be.
        """
        config = self._config_source()
        body = event.body
        if kind == "replay" and age_seconds is not None:
            payload = json.loads(body)
            body = event_body(payload["event"], payload["data"], time.time() - age_seconds)
        secret = WRONG_SECRET if kind == "bad_signature" else config.webhook_secret
        with self._condition:
            return self._enqueue(event, kind, url, body, secret, retry=kind != "bad_signature")

    def send_manual(self, event_type: str, data: dict[str, Any], url: str) -> tuple[WebhookEvent, Delivery]:
        """Record a new event happening now and send it, whatever the lifecycle says.

        :param event_type: the event type.
        :param data: the event's ``data`` object.
        :param url: where to send it.
        """
        config = self._config_source()
        now = time.time()
        event = WebhookEvent(
            event_id=f"evt_{next(self._event_numbers):06d}",
            event=event_type,
            intervention_id=str(data.get("intervention_id", "")),
            occurred_at=now,
            body=event_body(event_type, data, now),
        )
        with self._condition:
            self._events.append(event)
            delivery = self._enqueue(event, "manual", url, event.body, config.webhook_secret, retry=True)
        return event, delivery

    # --- delivery ------------------------------------------------------------------------------------

    def _enqueue(self, event: WebhookEvent, kind: str, url: str, body: bytes, secret: str, *, retry: bool) -> Delivery:
        # Called with self._condition held.
        now = time.time()
        delivery = Delivery(
            delivery_id=f"dlv_{next(self._delivery_numbers):06d}",
            event_id=event.event_id,
            kind=kind,
            url=url,
            body=body,
            signature=sign(body, secret),
            retry=retry,
            next_attempt_at=now,
        )
        self._deliveries[delivery.delivery_id] = delivery
        heapq.heappush(self._queue, (now, next(self._sequence), delivery.delivery_id))
        self._condition.notify_all()
        return delivery

    def _next_due(self) -> Delivery | None:
        with self._condition:
            while not self._stopping:
                now = time.time()
                if self._queue and self._queue[0][0] <= now:
                    _, _, delivery_id = heapq.heappop(self._queue)
                    delivery = self._deliveries.get(delivery_id)
                    if delivery is not None and delivery.outcome == "pending":
                        return delivery
                    continue
                timeout = self._queue[0][0] - now if self._queue else None
                self._condition.wait(timeout)
            return None

    def _deliver_forever(self) -> None:
        session = requests.Session()
        session.trust_env = False  # the receiver is where the config says, never behind an environment proxy
        try:
            while (delivery := self._next_due()) is not None:
                self._attempt(session, delivery)
        finally:
            session.close()

    def _attempt(self, session: requests.Session, delivery: Delivery) -> None:
        config = self._config_source()
        policy = config.webhook_retry
        status_code: int | None = None
        error: str | None = None
        try:
            response = session.post(
                delivery.url,
                data=delivery.body,
                headers={
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: delivery.signature,
                    "User-Agent": "Symphonics-Webhooks/sandbox",
                },
                timeout=policy.timeout,
            )
            status_code = response.status_code
            response.close()
        except requests.RequestException as exc:
            error = type(exc).__name__
        now = time.time()
        with self._condition:
            if self._deliveries.get(delivery.delivery_id) is not delivery:
                return  # reset while in flight
            delivery.attempts.append({"at": iso_seconds(now), "status_code": status_code, "error": error})
            if status_code is not None and 200 <= status_code < 300:
                delivery.outcome = "delivered"
                delivery.next_attempt_at = None
                return
            attempt = len(delivery.attempts)
            if not delivery.retry or attempt >= policy.max_attempts:
                delivery.outcome = "failed"
                delivery.next_attempt_at = None
                log.warning("webhook %s gave up after %d attempt(s)", delivery.delivery_id, attempt)
                return
            backoff = min(policy.max_backoff, policy.initial_backoff * policy.multiplier ** (attempt - 1))
            delivery.next_attempt_at = now + backoff / config.time_scale
            heapq.heappush(self._queue, (delivery.next_attempt_at, next(self._sequence), delivery.delivery_id))
            self._condition.notify_all()
