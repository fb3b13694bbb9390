"""Completed -> created at the partner: latency, runs, partner calls and the watcher's cost, under ``make run``.

    make run    # in another terminal (same SYMPHONICS_AIRFLOW_PORT / SYMPHONICS_SANDBOX_PORT as below)
    python bench/freshness.py [--steady 20] [--interval 15] [--burst 50] [--timeout 900]

Against the running stack of ``make run``: books new jobs in the app, copies of interventions the pipeline
already published (so each costs exactly one partner call, its create: the lower bound), then completes them
one by one at a steady pace, then all at once (a burst), and prints for each phase the completed -> created
latency (p50, p95, max: the ledger's ``published_at`` minus the app's ``updated_at`` of the completion), the
publish runs it took and their type, the partner calls spent against the lower bound, where the seconds went
(watcher, scheduler, each task), and the watcher's load on the app database (probes = queries per minute,
mean time per probe, from ``symphonics.completion_watchers``). Nothing is faked: the scheduler, the triggerer
and the partner sandbox of ``make run`` do the work.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
import requests

DAG_ID = "symphonics_publish"
#: The tasks of a run in their order: the event path (``choose_path`` → ``fast_publish``) or the step-by-step one.
TASKS = (
    "choose_path",
    "fast_publish",
    "check_params",
    "extract",
    "prevalidate",
    "validate_with_partner",
    "publish",
    "summarise",
)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = max(0, min(len(ordered) - 1, round(share * (len(ordered) - 1))))
    return ordered[index]


class StackMissing(RuntimeError):
    """``make run`` is not running: this benchmark needs its scheduler and triggerer."""


class Stack:
    """The running ``make run`` stack: its databases, its sandbox, its api-server."""

    def __init__(self) -> None:
        from include.symphonics_devstack import devstack, localpg

        if not devstack.STATE_FILE.exists():
            raise StackMissing("skipped: make run is not running (start it first, with the same ports as this shell)")
        server = localpg.get_server(localpg.LOCAL_DIR / "pg")
        self.app_url, self.sync_url, self.airflow_url = server.url("app"), server.url("sync"), server.url("airflow")
        self.api = f"http://127.0.0.1:{devstack.AIRFLOW_PORT}"
        self.sandbox = f"http://127.0.0.1:{devstack.SANDBOX_PORT}"
        self.http = requests.Session()
        self.http.trust_env = False  # loopback only
        # The sandbox's admin API (its call log) answers only with make run's admin token.
        self.sandbox_admin = {"X-Sandbox-Admin-Token": devstack.sandbox_admin_token()}

    def partner_calls(self) -> tuple[int, int]:
        """Requests the sandbox received on the partner's API so far (its admin routes excluded), and creates."""
        response = self.http.get(f"{self.sandbox}/_sandbox/calls", headers=self.sandbox_admin, timeout=30)
        response.raise_for_status()
        calls = response.json()
        items = calls["calls"] if isinstance(calls, dict) else calls
        partner = [call for call in items if not str(call.get("path", "")).startswith("/_sandbox")]
        creates = sum(
            1 for call in partner if call.get("route") == "crm.create_intervention" and call.get("status") == 201
        )
        return len(partner), creates

    def trigger_publish(self) -> None:
        """A manual run (the demo login of ``make run``), to publish the seed once if nothing was published."""
        token = self.http.post(
            f"{self.api}/auth/token", json={"username": "admin", "password": "admin"}, timeout=30
        ).json()["access_token"]
        deadline = time.monotonic() + 120
        while True:
            response = self.http.post(
                f"{self.api}/api/v2/dags/{DAG_ID}/dagRuns",
                json={"logical_date": None},
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            # Right after make run starts, the DAG may not be parsed yet.
            if response.status_code != 404 or time.monotonic() > deadline:
                break
            time.sleep(5)
        response.raise_for_status()

    def watcher(self) -> tuple[int, float, datetime | None]:
        """The watcher's (probes, total probe ms, last probe)."""
        with psycopg.connect(self.sync_url) as conn:
            row = conn.execute(
                "SELECT probes, probe_ms_total, last_probe_at FROM symphonics.completion_watchers "
                "WHERE watcher = 'symphonics_completions'"
            ).fetchone()
        return (int(row[0]), float(row[1]), row[2]) if row else (0, 0.0, None)

    def templates(self, count: int) -> list[int]:
        """App ids of interventions created at the partner whose PDL and installer are validated and cached."""
        with psycopg.connect(self.sync_url) as conn:
            rows = conn.execute(
                "SELECT app_intervention_id FROM symphonics.interventions_ledger "
                "WHERE state = 'published' ORDER BY id LIMIT %s",
                (count,),
            ).fetchall()
        return [int(row[0]) for row in rows]

    def published(self, external_ids: list[str]) -> dict[str, tuple[datetime, datetime]]:
        """(completion's updated_at, published_at) of those of ``external_ids`` created at the partner."""
        with psycopg.connect(self.sync_url) as conn:
            rows = conn.execute(
                "SELECT external_id, app_updated_at, published_at FROM symphonics.interventions_ledger "
                "WHERE external_id = ANY(%s) AND published_at IS NOT NULL",
                (external_ids,),
            ).fetchall()
        return {row[0]: (row[1], row[2]) for row in rows}

    def runs_since(self, since: datetime) -> list[dict[str, Any]]:
        """Publish runs queued since ``since``, with their tasks' times and the asset events they consumed."""
        with psycopg.connect(self.airflow_url, row_factory=psycopg.rows.dict_row) as conn:
            runs = conn.execute(
                "SELECT id, run_id, run_type, state, queued_at, start_date, end_date FROM dag_run "
                "WHERE dag_id = %s AND queued_at >= %s ORDER BY queued_at",
                (DAG_ID, since),
            ).fetchall()
            for run in runs:
                run["tasks"] = {
                    row["task_id"]: row
                    for row in conn.execute(
                        "SELECT task_id, state, queued_dttm, start_date, end_date FROM task_instance "
                        "WHERE dag_id = %s AND run_id = %s",
                        (DAG_ID, run["run_id"]),
                    ).fetchall()
                }
                # The run's newest event is the one that created it (it may also link older ones).
                event = conn.execute(
                    "SELECT e.timestamp AS first_event, e.extra -> 'payload' ->> 'oldest_updated_at' AS oldest "
                    "FROM dagrun_asset_event AS l JOIN asset_event AS e ON e.id = l.event_id "
                    "WHERE l.dag_run_id = %s ORDER BY e.timestamp DESC LIMIT 1",
                    (run["id"],),
                ).fetchone()
                run["first_event"] = event["first_event"] if event else None
                oldest = event["oldest"] if event else None
                run["first_completion"] = datetime.fromisoformat(oldest) if oldest else None
        return runs


def _phase(stack: Stack, name: str, ids: list[int], interval: float, timeout: float) -> dict[str, Any]:
    from include.symphonics_demo.live import complete
    from include.symphonics_demo.plan import external_id_of

    external_ids = [external_id_of(i) for i in ids]
    calls_before, creates_before = stack.partner_calls()
    probes_before, probe_ms_before, _ = stack.watcher()
    with psycopg.connect(stack.app_url) as conn:
        started = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        conn.commit()
        clock = time.monotonic()
        for index, intervention_id in enumerate(ids):
            complete(conn, intervention_id)
            if interval and index < len(ids) - 1:
                time.sleep(interval)
    deadline = time.monotonic() + timeout
    done: dict[str, tuple[datetime, datetime]] = {}
    while time.monotonic() < deadline:
        done = stack.published(external_ids)
        if len(done) == len(external_ids):
            break
        time.sleep(1)
    # Let the last run end, so its calls and its summary are counted.
    while time.monotonic() < deadline and any(
        run["state"] in ("queued", "running") for run in stack.runs_since(started)
    ):
        time.sleep(1)
    elapsed_min = (time.monotonic() - clock) / 60.0
    probes_after, probe_ms_after, _ = stack.watcher()
    calls_after, creates_after = stack.partner_calls()
    latencies = [(created - completed).total_seconds() for completed, created in done.values()]
    runs = stack.runs_since(started)
    return {
        "name": name,
        "count": len(ids),
        "published": len(done),
        "latencies": latencies,
        "runs": runs,
        "calls": calls_after - calls_before,
        "creates": creates_after - creates_before,
        "probes": probes_after - probes_before,
        "probe_ms": probe_ms_after - probe_ms_before,
        "minutes": elapsed_min,
    }


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    return None if later is None or earlier is None else (later - earlier).total_seconds()


def _breakdown(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Mean seconds of each stage over the asset-triggered runs (event -> run -> each task)."""
    stages: dict[str, list[float]] = {}

    def add(stage: str, value: float | None) -> None:
        if value is not None:
            stages.setdefault(stage, []).append(value)

    for run in runs:
        if run["run_type"] != "asset_triggered":
            continue
        tasks = run["tasks"]
        add("completion -> asset event (watcher)", _seconds(run["first_event"], run["first_completion"]))
        add("event -> run queued (scheduler)", _seconds(run["queued_at"], run["first_event"]))
        add("run queued -> run started", _seconds(run["start_date"], run["queued_at"]))
        previous_end = run["start_date"]
        for task_id in TASKS:
            task = tasks.get(task_id)
            if not task or task["state"] == "skipped":  # a skipped task never started
                continue
            add(f"  wait before {task_id}", _seconds(task["start_date"], previous_end))
            add(f"  {task_id}", _seconds(task["end_date"], task["start_date"]))
            previous_end = task["end_date"]
        add("run started -> run ended", _seconds(run["end_date"], run["start_date"]))
    return {stage: statistics.fmean(values) for stage, values in stages.items()}


def _report(result: dict[str, Any]) -> None:
    latencies = result["latencies"]
    runs = result["runs"]
    types: dict[str, int] = {}
    for run in runs:
        types[run["run_type"]] = types.get(run["run_type"], 0) + 1
    print(f"== {result['name']}: {result['count']} completions, {result['published']} created at the partner")
    print("machine load average (1, 5, 15 min) at the end: {:.2f} {:.2f} {:.2f}".format(*os.getloadavg()))
    if latencies:
        print(
            f"latency completed -> created: p50 {_percentile(latencies, 0.5):.1f} s, "
            f"p95 {_percentile(latencies, 0.95):.1f} s, max {max(latencies):.1f} s"
        )
    print(f"publish runs: {len(runs)} {types}")
    bound = result["count"]
    ratio = result["calls"] / bound if bound else float("nan")
    print(
        f"partner calls: {result['calls']} for a lower bound of {bound} (one create each): {ratio:.2f} of the bound; "
        f"creates {result['creates']} (the rest: token requests, refused or retried calls)"
    )
    if result["probes"]:
        print(
            f"watcher on the app database: {result['probes'] / result['minutes']:.1f} queries/min, "
            f"mean probe {result['probe_ms'] / result['probes']:.2f} ms"
        )
    for stage, seconds in _breakdown(runs).items():
        print(f"  {stage:<40} {seconds:6.2f} s (mean)")


def main() -> int:
    """Run the steady and burst phases against ``make run`` and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steady", type=int, default=20, help="completions at a steady pace")
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between two steady completions")
    parser.add_argument("--burst", type=int, default=50, help="completions at once")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for a phase's creates")
    args = parser.parse_args()

    from include.symphonics_demo.live import schedule_copies

    try:
        stack = Stack()
    except StackMissing as exc:
        print(exc)  # `make bench` runs every script: this one needs the live stack, the others do not
        return 0
    os.environ.setdefault("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    templates = stack.templates(40)
    if not templates:
        print("nothing published yet: triggering one manual publish run of the seed")
        stack.trigger_publish()
        deadline = time.monotonic() + args.timeout
        while not templates and time.monotonic() < deadline:
            time.sleep(5)
            templates = stack.templates(40)
        if not templates:
            raise SystemExit("the seed's publish run published nothing: see .local/logs")
        time.sleep(10)  # let that run finish
    with psycopg.connect(stack.app_url) as conn:
        steady_ids = schedule_copies(conn, templates, args.steady)
        burst_ids = schedule_copies(conn, templates, args.burst)
    time.sleep(5)  # the watcher passes the bookings over (scheduled jobs never start a run)
    for result in (
        _phase(stack, f"steady (one every {args.interval:g} s)", steady_ids, args.interval, args.timeout),
        _phase(stack, "burst", burst_ids, 0.0, args.timeout),
    ):
        _report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
