"""Generated traffic (well over 1,000 requests): forged, tampered, stale, future, replayed, malformed, oversized,
wrongly typed and valid deliveries mixed. Never a 5xx; nothing stored that should not be; each valid event
stored exactly once; each late one stored once, flagged; every refusal counted."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.symphonics.webhooks import WebhookSettings, create_webhook_app
from tests.webhooks.conftest import PREVIOUS_SECRET, SECRET, encode, iso, sign

MAX_BODY = 4096  # small, so oversized bodies are cheap to generate
EXAMPLES = 80
MIN_STEPS = 14
KNOWN = ("intervention.status_update", "document.verification")


@dataclass
class Step:
    """One request and what the receiver must answer."""

    kind: str
    body: bytes
    headers: dict[str, str]
    expected: set[int]
    key: tuple[Any, ...] | None = None  # the natural key, when the event must end up stored
    late: bool = False


def storable(text: str) -> bool:
    """What PostgreSQL text can hold: no NUL, no lone surrogate."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def headers_for(body: bytes, secret: str = SECRET, content_type: str = "application/json") -> dict[str, str]:
    return {"Content-Type": content_type, "X-Symphonics-Signature": sign(body, secret)}


@st.composite
def event(draw: st.DrawFn, run: str, age: float) -> tuple[dict[str, Any], tuple[Any, ...] | None, bool]:
    """An event of a known or unknown type about one of a few interventions (so natural duplicates happen).

    Returns the payload, its natural key, and whether its fields are storable (else it must be a 400).
    """
    suffix = draw(st.one_of(st.sampled_from(["a", "b", "c"]), st.text(max_size=6)))
    intervention_id = f"{run}{suffix}"
    timestamp = iso(datetime.now(UTC) - timedelta(seconds=age))
    kind = draw(st.sampled_from([*KNOWN, "unknown"]))
    ok = storable(intervention_id) and len(intervention_id) <= 200
    if kind == "intervention.status_update":
        previous, new = draw(st.sampled_from([("created", "processing"), ("processing", "approved")]))
        data: dict[str, Any] = {
            "intervention_id": intervention_id,
            "external_id": "int_1",
            "previous_status": previous,
            "new_status": new,
            "notes": draw(st.text(max_size=20)),
        }
        ok = ok and storable(data["notes"])
        return (
            {"event": kind, "timestamp": timestamp, "data": data},
            (kind, intervention_id, timestamp, previous, new),
            ok,
        )
    if kind == "document.verification":
        document = draw(st.sampled_from(["invoice", "contract"]))
        data = {"intervention_id": intervention_id, "document_type": document, "verification_status": "verified"}
        return {"event": kind, "timestamp": timestamp, "data": data}, (kind, intervention_id, timestamp, document), ok
    event_type = draw(st.text(min_size=1, max_size=12).filter(lambda text: text not in KNOWN))
    extra = draw(st.integers(0, 2))
    data = {"intervention_id": intervention_id, "extra": extra}
    # An unknown event needs only a storable type: an odd intervention id is kept in its raw body, not refused,
    # and the event is stored without one (so it is not counted among this run's ids: no key).
    key = (event_type, intervention_id, timestamp, extra) if ok else None
    return {"event": event_type, "timestamp": timestamp, "data": data}, key, storable(event_type)


@st.composite
def step(draw: st.DrawFn, run: str) -> Step:
    kind = draw(
        st.sampled_from(
            [
                "valid",
                "valid",
                "previous",
                "replay",
                "forged",
                "tampered",
                "unsigned",
                "stale",
                "future",
                "malformed",
                "missing",
                "oversized",
                "wrong_type",
            ]
        )
    )
    if kind in ("stale", "future"):
        # Well past the 300 s bound: timestamps have whole seconds and shrinking replays steps later.
        age = draw(st.sampled_from([360, 3600, 86400 * 30]))
        payload, key, ok = draw(event(run, age if kind == "stale" else -age))
        body = encode(payload)
        return Step(kind, body, headers_for(body), {422} if ok else {400}, key if ok else None, late=True)
    payload, key, ok = draw(event(run, draw(st.sampled_from([0, 1, 200]))))
    body = encode(payload)
    if kind in ("valid", "previous", "replay"):
        # "replay" is resolved against earlier steps by the runner.
        secret = PREVIOUS_SECRET if kind == "previous" else SECRET
        return Step(kind, body, headers_for(body, secret), {200} if ok else {400}, key if ok else None)
    if kind == "forged":
        secret = draw(st.text(min_size=1, max_size=20).filter(lambda s: s not in (SECRET, PREVIOUS_SECRET)))
        return Step(kind, body, headers_for(body, secret.encode("utf-8", "replace").decode()), {401})
    if kind == "tampered":
        tampered = body.replace(b"verified", b"rejected").replace(b"approved", b"rejected") + b" "
        return Step(kind, tampered, headers_for(body), {401})
    if kind == "unsigned":
        headers = draw(st.sampled_from([{}, {"X-Symphonics-Signature": ""}, {"X-Symphonics-Signature": "0" * 64}]))
        return Step(kind, body, {"Content-Type": "application/json", **headers}, {401})
    if kind == "malformed":
        junk = draw(
            st.one_of(
                st.binary(max_size=300),
                st.text(max_size=100).map(lambda text: text.encode("utf-8", "surrogatepass")),
                st.recursive(
                    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=10,
                ).map(lambda value: json.dumps(value).encode()),
            )
        )
        return Step(kind, junk, headers_for(junk), {400})
    if kind == "missing":
        field = draw(st.sampled_from(["event", "timestamp", "data"]))
        value = draw(st.one_of(st.just(None), st.integers(), st.lists(st.integers(), max_size=2), st.just("")))
        broken = dict(payload)
        if value is None:
            broken.pop(field)
        else:
            broken[field] = value
        body = encode(broken)
        expected = {400} if field != "data" or payload["event"] in KNOWN else {200, 400}
        return Step(kind, body, headers_for(body), expected)
    if kind == "oversized":
        size = draw(st.integers(MAX_BODY + 1, MAX_BODY * 4))
        padded = encode(dict(payload, padding="p" * size))
        signed = draw(st.booleans())
        return Step(kind, padded, headers_for(padded) if signed else {"Content-Type": "application/json"}, {413})
    content_type = draw(st.sampled_from(["text/plain", "application/xml", "multipart/form-data", "application/jsonx"]))
    return Step(kind, body, headers_for(body, content_type=content_type), {415})


def test_generated_traffic(webhook_db: str) -> None:
    # No per-source refusal limit here (all requests come from one test client): test_flood.py covers it.
    app = create_webhook_app(
        WebhookSettings(
            secret=SECRET,
            previous_secret=PREVIOUS_SECRET,
            dsn=webhook_db,
            max_body_bytes=MAX_BODY,
            refusal_limit=1_000_000,
        )
    )
    sent = 0

    with TestClient(app, raise_server_exceptions=False) as client, psycopg.connect(webhook_db, autocommit=True) as db:

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(data=st.data())
        def run(data: st.DataObject) -> None:
            nonlocal sent
            prefix = f"h{uuid.uuid4().hex[:10]}_"
            steps = data.draw(st.lists(step(prefix), min_size=MIN_STEPS, max_size=MIN_STEPS + 6))
            # Refusals are counted in aggregate (webhook_refusals), written when flushed.
            refused_sql = "SELECT coalesce(sum(requests), 0) FROM symphonics.webhook_refusals"
            app.state.receiver.flush_refusals()
            rejections_before = db.execute(refused_sql).fetchone()
            stored: set[tuple[Any, ...]] = set()
            late: set[tuple[Any, ...]] = set()
            refused = 0
            accepted: list[Step] = []
            for current in steps:
                if current.kind == "replay" and accepted:
                    current = data.draw(st.sampled_from(accepted))
                response = client.post("/", content=current.body, headers=current.headers)
                sent += 1
                assert response.status_code < 500, (current.kind, response.status_code, response.text)
                assert response.status_code in current.expected, (current.kind, response.status_code, response.text)
                if response.status_code == 200:
                    if current.key is not None:
                        status = "duplicate" if current.key in stored else "stored"
                        assert response.json()["status"] == status, current.kind
                        stored.add(current.key)
                        accepted.append(current)
                else:
                    refused += 1
                    if response.status_code == 422 and current.key is not None:
                        late.add(current.key)
            counts = db.execute(
                "SELECT count(*) FILTER (WHERE NOT late), count(*) FILTER (WHERE late), "
                "count(DISTINCT dedup_key) FROM symphonics.webhook_events WHERE starts_with(intervention_id, %s)",
                [prefix],
            ).fetchone()
            assert counts == (len(stored), len(late), len(stored) + len(late))
            polls = db.execute(
                "SELECT count(*) FROM symphonics.status_poll_queue WHERE starts_with(intervention_id, %s)", [prefix]
            ).fetchone()
            assert polls is not None
            assert polls[0] == len({key[1] for key in late})
            app.state.receiver.flush_refusals()
            rejections_after = db.execute(refused_sql).fetchone()
            assert rejections_before is not None
            assert rejections_after is not None
            assert rejections_after[0] - rejections_before[0] == refused

        run()
    app.state.receiver.close()
    assert sent >= 1000
