"""The sandbox's own admin API under ``/_sandbox``: not in ``/openapi.json``, not in the call log.

Tests and benchmarks use it to inspect calls, reset state, change configuration, arm faults, revoke tokens,
drive the lifecycle and send webhook variants. Errors use the partner's error format.

It can sign events our receiver trusts, so it answers only its own developer, never a web page open in their
browser nor a neighbour on the network:

- the ``Host`` header must name loopback (``localhost``, ``127.0.0.1``, ``[::1]``): a DNS-rebinding page
  sends its own host name;
- a request with a body, and every ``POST``/``PATCH``/``PUT``, must be ``application/json``: a page can send
  ``text/plain`` or a form cross-origin without a preflight, never JSON;
- every route but ``GET /_sandbox/health`` needs the admin token (``X-Sandbox-Admin-Token``), which the
  sandbox reads from ``SYMPHONICS_SANDBOX_ADMIN_TOKEN`` at start (``make run`` generates it); without one
  configured the admin API is closed;
- it never returns a secret (``GET /_sandbox/config`` redacts them) and delivers webhooks only to the
  configured ``webhook_url``: a request cannot name another URL.
"""

from __future__ import annotations

import hmac
import json
import time
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from include.symphonics_sandbox.config import ConfigError
from include.symphonics_sandbox.errors import FieldProblem, SandboxError
from include.symphonics_sandbox.faults import FAULT_KINDS
from include.symphonics_sandbox.routes import CREATE_INTERVENTION_ROUTE, is_valid_selector
from include.symphonics_sandbox.runtime import SandboxRuntime
from include.symphonics_sandbox.state import Intervention
from include.symphonics_sandbox.webhooks import EVENT_TYPES, iso_seconds

ADMIN_TOKEN_HEADER = "X-Sandbox-Admin-Token"  # noqa: S105 - the name of a header, not a secret
#: Host names (without port) the admin API answers to.
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
_JSON_METHODS = frozenset({"POST", "PATCH", "PUT"})
_OPEN_ROUTES = frozenset({("GET", "/_sandbox/health")})


def _runtime(request: Request) -> SandboxRuntime:
    runtime: SandboxRuntime = request.app.state.runtime
    return runtime


def _host_name(host_header: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8099`` -> ``[::1]``, ``localhost:8099`` -> ``localhost``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0]


def guard_admin(request: Request) -> None:
    """Refuse an admin request that does not come from the developer's own tools (see the module docstring).

    :raises SandboxError: 403 for a foreign ``Host``, 415 for a body that is not JSON, 401 for a missing or
        wrong admin token, 403 when no admin token is configured.
    """
    if _host_name(request.headers.get("host", "")) not in LOOPBACK_HOSTS:
        raise SandboxError(403, "The admin API answers only to a loopback Host (localhost, 127.0.0.1, [::1])")
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    if has_body or request.method in _JSON_METHODS:
        media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media_type != "application/json":
            raise SandboxError(
                415, "The admin API takes only application/json", [FieldProblem("Content-Type", "Must be JSON")]
            )
    if (request.method, request.url.path) in _OPEN_ROUTES:
        return
    expected = _runtime(request).config.admin_token
    if expected is None:
        raise SandboxError(
            403, "The admin API is closed: start the sandbox with SYMPHONICS_SANDBOX_ADMIN_TOKEN set to open it"
        )
    given = request.headers.get(ADMIN_TOKEN_HEADER, "")
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise SandboxError(401, f"Missing or wrong {ADMIN_TOKEN_HEADER} header")


router = APIRouter(prefix="/_sandbox", include_in_schema=False, dependencies=[Depends(guard_admin)])


async def _json_object(request: Request) -> dict[str, Any]:
    body = await request.body()
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise SandboxError(400, "Malformed JSON body", [FieldProblem("body", "Not valid JSON")]) from exc
    if not isinstance(data, dict):
        raise SandboxError(422, "The body must be a JSON object", [FieldProblem("body", "Must be an object")])
    return data


def _invalid(field: str, message: str) -> SandboxError:
    return SandboxError(422, message, [FieldProblem(field, message)])


def _number(data: dict[str, Any], name: str, default: Any, *, minimum: float, integer: bool = False) -> Any:
    value = data.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (integer and not isinstance(value, int)):
        raise _invalid(name, f"Must be {'an integer' if integer else 'a number'}")
    if value < minimum:
        raise _invalid(name, f"Must be >= {minimum}")
    return value


def _flag(data: dict[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise _invalid(name, "Must be true or false")
    return value


def _intervention_view(record: Intervention) -> dict[str, Any]:
    return {
        "id": record.id,
        "external_id": record.external_id,
        "status": record.status,
        "created_at": iso_seconds(record.created_at),
        "updated_at": iso_seconds(record.updated_at),
        "processing_due": iso_seconds(record.processing_due),
        "decision_due": iso_seconds(record.decision_due),
        "reopened": record.reopened,
        "notes": record.notes,
        "history": [
            {"status": step["status"], "at": iso_seconds(step["at"]), "notes": step["notes"]} for step in record.history
        ],
        "documents": record.documents,
        "photos": record.photos,
        "payload": record.payload,
    }


@router.get("/health")
async def health(request: Request) -> dict[str, Any]:
    """Liveness, for fixtures and ``make run``."""
    runtime = _runtime(request)
    return {
        "status": "ok",
        "uptime_seconds": round(time.time() - runtime.started_at, 3),
        "interventions": len(runtime.store.interventions()),
        "persistent": runtime.config.state_file is not None,
    }


def _parse_since(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError as exc:
        raise _invalid("since", "Must be a Unix time or an ISO-8601 date-time") from exc


@router.get("/calls")
async def list_calls(request: Request, since: str | None = None, path: str | None = None) -> dict[str, Any]:
    """Every call the partner routes received (oldest first), optionally since a time and under a path."""
    calls = _runtime(request).calls.select(since=_parse_since(since), path_prefix=path)
    return {"count": len(calls), "calls": [call.to_dict() for call in calls]}


@router.delete("/calls")
async def clear_calls(request: Request) -> dict[str, Any]:
    """Forget the call log only."""
    _runtime(request).calls.clear()
    return {"cleared": True}


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    """Back to start: state, calls, counters, faults, webhook history and configuration."""
    _runtime(request).reset()
    return {"reset": True}


@router.post("/daily-reset")
async def daily_reset(request: Request) -> dict[str, Any]:
    """The partner's daily reset ("test data is reset daily"): every intervention is forgotten; tokens, the call
    log, rate counters, faults and configuration stay."""
    _runtime(request).store.clear_interventions()
    return {"reset": True}


@router.get("/config")
async def get_config(request: Request) -> dict[str, Any]:
    """The current configuration, secrets redacted."""
    return _runtime(request).config.public_dict()


@router.patch("/config")
async def change_config(request: Request) -> dict[str, Any]:
    """Change configuration keys at run time (a reset goes back to the start-up configuration)."""
    changes = await _json_object(request)
    try:
        return _runtime(request).reconfigure(changes).public_dict()
    except ConfigError as exc:
        raise _invalid("config", str(exc)) from exc


@router.get("/interventions")
async def list_interventions(request: Request) -> dict[str, Any]:
    """Every intervention with its lifecycle bookkeeping, oldest first (brought up to date first)."""
    runtime = _runtime(request)
    runtime.lifecycle.advance_all(time.time())
    return {"interventions": [_intervention_view(record) for record in runtime.store.interventions()]}


@router.get("/interventions/{intervention_id}")
async def show_intervention(request: Request, intervention_id: str) -> dict[str, Any]:
    """One intervention with its lifecycle bookkeeping."""
    record = _runtime(request).lifecycle.refresh(intervention_id, time.time())
    if record is None:
        raise SandboxError(404, "Intervention not found")
    return _intervention_view(record)


@router.post("/tick")
async def tick(request: Request) -> dict[str, Any]:
    """Advance the lifecycle now: every due transition, plus ``steps`` early ones per intervention.

    Body (optional): ``{"steps": 1}``; ``steps: 0`` only applies what is due, ``steps: 2`` decides a new
    intervention at once.
    """
    data = await _json_object(request)
    steps = _number(data, "steps", 1, minimum=0, integer=True)
    transitions = _runtime(request).lifecycle.advance_all(time.time(), force_steps=steps)
    return {"transitions": transitions}


@router.get("/faults")
async def list_faults(request: Request) -> dict[str, Any]:
    """The armed faults."""
    return _runtime(request).faults.snapshot()


def _fault_params(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    if kind == "error_rate":
        rate = _number(data, "rate", None, minimum=0)
        if rate is None or rate > 1:
            raise _invalid("rate", "Required, between 0 and 1")
        return {"rate": rate, "status": _server_status(data, 500)}
    if kind == "burst":
        return {
            "count": _number(data, "count", 1, minimum=1, integer=True),
            "status": _server_status(data, 503),
        }
    if kind == "storm_429":
        return {
            "count": _number(data, "count", 1, minimum=1, integer=True),
            "retry_after": _number(data, "retry_after", 1, minimum=1, integer=True),
            "rate_headers": _flag(data, "rate_headers", True),
        }
    if kind == "latency":
        seconds = _number(data, "seconds", None, minimum=0)
        if seconds is None:
            raise _invalid("seconds", "Required")
        return {"seconds": float(seconds)}
    if kind == "hang":
        count = _number(data, "count", 1, minimum=1, integer=True) if "count" in data else 1
        return {"seconds": float(_number(data, "seconds", 30, minimum=0)), "count": count}
    if kind == "forbidden":
        resource = data.get("resource")
        if not isinstance(resource, str) or not resource:
            raise _invalid("resource", "Required: an external_id, an intervention id, a PDL or an e-mail")
        count = None if data.get("count") is None else _number(data, "count", 1, minimum=1, integer=True)
        return {"resource": resource, "count": count}
    return {"count": _number(data, "count", 1, minimum=1, integer=True)}


def _server_status(data: dict[str, Any], default: int) -> int:
    status = _number(data, "status", default, minimum=500, integer=True)
    if status > 599:
        raise _invalid("status", "Must be a 5xx status")
    return int(status)


@router.post("/faults")
async def arm_fault(request: Request) -> dict[str, Any]:
    """Arm a fault: ``{"kind", "route", ...parameters}``.

    Kinds and parameters: ``error_rate`` (rate, status=500), ``burst`` (count=1, status=503), ``storm_429``
    (count=1, retry_after=1, rate_headers=true), ``latency`` (seconds), ``hang`` (seconds=30, count=1, null for
    every call), ``drop_after_commit`` (count=1; creates only, no route needed), ``forbidden`` (resource,
    count=null for every call; no route needed). ``route`` is ``*``, a route name or a
    dotted prefix (default ``*``).
    """
    data = await _json_object(request)
    kind = data.get("kind")
    if kind not in FAULT_KINDS:
        raise _invalid("kind", f"Must be one of: {', '.join(FAULT_KINDS)}")
    route = data.get("route", CREATE_INTERVENTION_ROUTE if kind == "drop_after_commit" else "*")
    if not isinstance(route, str) or not is_valid_selector(route):
        raise _invalid("route", "Must be '*', a partner route name or a dotted prefix of one")
    runtime = _runtime(request)
    runtime.faults.arm(kind, route, _fault_params(kind, data))
    return runtime.faults.snapshot()


@router.delete("/faults")
async def clear_faults(request: Request) -> dict[str, Any]:
    """Disarm every fault, start-up ones included (a reset re-arms those)."""
    runtime = _runtime(request)
    runtime.faults.clear()
    return runtime.faults.snapshot()


@router.post("/tokens/revoke")
async def revoke_tokens(request: Request) -> dict[str, Any]:
    """Revoke every token, or one client's: ``{"client_id": ...}`` (optional)."""
    data = await _json_object(request)
    client_id = data.get("client_id")
    if client_id is not None and not isinstance(client_id, str):
        raise _invalid("client_id", "Must be a string")
    return {"revoked": _runtime(request).store.revoke_tokens(client_id)}


@router.get("/webhooks/events")
async def list_webhook_events(request: Request) -> dict[str, Any]:
    """Every webhook event that happened, delivered or not (``event_id`` is the sandbox's, never sent)."""
    return {"events": [event.to_dict() for event in _runtime(request).webhooks.events()]}


@router.get("/webhooks/deliveries")
async def list_webhook_deliveries(request: Request) -> dict[str, Any]:
    """Every delivery with its attempts and outcome (``pending``, ``delivered``, ``failed``)."""
    return {"deliveries": [delivery.to_dict() for delivery in _runtime(request).webhooks.deliveries()]}


def _target_url(runtime: SandboxRuntime, data: dict[str, Any]) -> str:
    # Only the configured receiver: a "url" in the body would make the sandbox POST anywhere (and its
    # deliveries list would report what answered there).
    if "url" in data:
        raise _invalid("url", "Not accepted: webhooks go only to the configured webhook_url")
    url = runtime.config.webhook_url
    if url is None:
        raise _invalid("webhook_url", "No webhook_url configured (start-up configuration or PATCH /_sandbox/config)")
    return url


async def _send_variant(request: Request, kind: str) -> JSONResponse:
    runtime = _runtime(request)
    data = await _json_object(request)
    url = _target_url(runtime, data)
    event_id = data.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        raise _invalid("event_id", "Must be a string")
    event = runtime.webhooks.find_event(event_id)
    if event is None:
        raise SandboxError(404, "No such webhook event" if event_id else "No webhook event has happened yet")
    age = _number(data, "age_seconds", None, minimum=0) if kind == "replay" else None
    delivery = runtime.webhooks.send_variant(event, kind, url, age_seconds=age)
    return JSONResponse(delivery.to_dict(), status_code=202)


@router.post("/webhooks/duplicate")
async def send_duplicate(request: Request) -> JSONResponse:
    """Send an event again, byte for byte: ``{"event_id"?}`` (default: the latest event)."""
    return await _send_variant(request, "duplicate")


@router.post("/webhooks/replay")
async def send_replay(request: Request) -> JSONResponse:
    """Replay an old event with its original timestamp, or re-stamped ``age_seconds`` in the past.

    Body: ``{"event_id"?, "age_seconds"?}``.
    """
    return await _send_variant(request, "replay")


@router.post("/webhooks/bad_signature")
async def send_bad_signature(request: Request) -> JSONResponse:
    """Send an event signed with the wrong key (not retried): ``{"event_id"?}``."""
    return await _send_variant(request, "bad_signature")


@router.post("/webhooks/send")
async def send_event(request: Request) -> JSONResponse:
    """Send a new event about an intervention now, whatever its lifecycle says.

    Body: ``{"intervention_id", "event": "intervention.status_update" | "document.verification",
    "data"?: {fields overriding the defaults}}``; it goes to the configured ``webhook_url``. Defaults come from
    the intervention: its current status as ``previous_status`` and ``new_status``; ``attestation_honneur``
    ``verified`` for documents.
    """
    runtime = _runtime(request)
    data = await _json_object(request)
    url = _target_url(runtime, data)
    event_type = data.get("event", "intervention.status_update")
    if event_type not in EVENT_TYPES:
        raise _invalid("event", f"Must be one of: {', '.join(EVENT_TYPES)}")
    intervention_id = data.get("intervention_id")
    if not isinstance(intervention_id, str):
        raise _invalid("intervention_id", "Required string")
    record = runtime.lifecycle.refresh(intervention_id, time.time())
    if record is None:
        raise SandboxError(404, "Intervention not found")
    overrides = data.get("data") or {}
    if not isinstance(overrides, dict):
        raise _invalid("data", "Must be an object")
    event_data: dict[str, Any] = {"intervention_id": record.id, "external_id": record.external_id}
    if event_type == "intervention.status_update":
        event_data.update({"previous_status": record.status, "new_status": record.status, "notes": record.notes or ""})
    else:
        event_data.update(
            {
                "document_type": "attestation_honneur",
                "verification_status": "verified",
                "notes": "Document verified successfully",
            }
        )
    event_data.update(overrides)
    event, delivery = runtime.webhooks.send_manual(event_type, event_data, url)
    return JSONResponse({"event": event.to_dict(), "delivery": delivery.to_dict()}, status_code=202)
