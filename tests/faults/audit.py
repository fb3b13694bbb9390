"""What the fault scenarios measure: lost and duplicated interventions, secrets in logs; the publish step in a
process of its own; and the rendering of ``docs/RELIABILITY.md``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg

from include.symphonics_demo import ExpectedState
from tests.fixtures.sandbox import REPO_ROOT
from tests.fixtures.sandbox import wait_until as shared_wait_until

if TYPE_CHECKING:
    from tests.faults.conftest import ScenarioFigures
    from tests.publish.conftest import PublishWorld

#: The scenarios of issue 7, in its order (key -> title). The document is written only when all reported.
SCENARIOS: dict[str, str] = {
    "1": "Sandbox down mid-run (process stopped; long 503 burst)",
    "2": "Publish task SIGKILLed mid batch, mid create",
    "3": "PostgreSQL restarted mid-run",
    "4": "Two runs in two worker processes at once",
    "5": "Token revoked, 429 storm, hang past the timeout, lost responses",
    "6": "Webhook receiver down > 5 min, late deliveries, then the polls",
    "8": "Generated bad app rows through the pre-validation",
    "9": "Full demo run's logs searched for secrets",
}

#: Ledger states of an intervention the partner holds, or will be completed by a webhook or the reconciliation.
LANDED_STATES = frozenset({"published", "updated", "conflict_unresolved"})

#: Bounded waits of the suite (seconds): every loop stops by then.
WAIT_LIMIT = 180.0  # generous: a loaded 2-core machine runs a worker subprocess slowly


def session_database(role: str) -> str:
    """A database name of this pytest session only: ``symphonics_test_<pid>_<role>``.

    Two sessions at once never share one, and the root conftest drops those of sessions that are gone.

    :param role: what the database is for (letters, digits and underscores).
    """
    return f"symphonics_test_{os.getpid()}_{role}"


@dataclass(frozen=True)
class Tally:
    """Lost and duplicated interventions after a scenario."""

    lost: int
    duplicated: int
    unexpected: int
    states: dict[str, int]
    unresolved_without_path: int


def tally(world: PublishWorld, expected_ids: Iterable[str] | None = None) -> Tally:
    """Compare the ledger and the partner's interventions with what should be published.

    Lost: an intervention expected at the partner that the partner does not hold, or whose ledger row is not in
    a landed state (``published``, ``updated``, or ``conflict_unresolved`` with its reason, which a webhook or the
    reconciliation completes). Duplicated: interventions beyond the first the partner holds for an external id.

    :param world: the publish world.
    :param expected_ids: the external ids expected at the partner (default: the demo's published ones).
    """
    expected = set(
        expected_ids if expected_ids is not None else world.expected.external_ids_in(ExpectedState.PUBLISHED)
    )
    held = Counter(world.partner_external_ids())
    rows = world.rows()
    lost_ids = {
        external_id
        for external_id in expected
        if held[external_id] == 0 or rows.get(external_id, {}).get("state") not in LANDED_STATES
    }
    without_path = sum(
        1
        for row in rows.values()
        if row["state"] == "conflict_unresolved" and row["state_reason"] != "conflict_id_unknown"
    )
    return Tally(
        lost=len(lost_ids),
        duplicated=sum(count - 1 for count in held.values() if count > 1),
        unexpected=sum(1 for external_id in held if external_id not in expected),
        states=world.states(),
        unresolved_without_path=without_path,
    )


def create_calls(world: PublishWorld) -> list[dict[str, Any]]:
    """Create calls in the sandbox's call log."""
    return [call for call in world.sandbox.calls("/crm/interventions") if call["method"] == "POST"]


# --- a publish step in a process of its own ----------------------------------------------------------------------


@dataclass
class StepProcess:
    """``python -m tests.faults.worker STEP RUN_ID`` running in the background."""

    process: subprocess.Popen[bytes]
    stdout_path: Path
    stderr_path: Path

    def wait(self, timeout: float = WAIT_LIMIT) -> int:
        """Wait for the end (killing it past ``timeout``); its exit status."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL, as the OOM killer or a lost worker node would."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stderr(self) -> str:
        """What it logged."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def stdout(self) -> str:
        """What it printed (its result as JSON on the last line)."""
        return self.stdout_path.read_text(encoding="utf-8", errors="replace")


def start_step(step: str, run_id: str, workdir: Path, env: dict[str, str] | None = None) -> StepProcess:
    """Start a publish step in a new process, with this process's environment (monkeypatches included).

    :param step: ``publish``, ``validate`` or ``pipeline`` (see ``tests/faults/worker.py``).
    :param run_id: the run's id.
    :param workdir: where its stdout and stderr files go.
    :param env: changes to the environment.
    """
    stdout_path = workdir / f"{run_id}.stdout"
    stderr_path = workdir / f"{run_id}.stderr"
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), full_env.get("PYTHONPATH")]))
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.worker", step, run_id],
            cwd=REPO_ROOT,
            env=full_env,
            stdout=stdout,
            stderr=stderr,
        )
    return StepProcess(process, stdout_path, stderr_path)


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = WAIT_LIMIT, interval: float = 0.02) -> Any:
    """Poll ``predicate`` until it is truthy (bounded in time); fail with ``what`` otherwise."""
    return shared_wait_until(predicate, what, timeout=timeout, interval=interval)


def ledger_count(sync_dsn: str, state: str) -> int:
    """Rows of the ledger in ``state``."""
    with psycopg.connect(sync_dsn) as conn:
        row = conn.execute("SELECT count(*) FROM symphonics.interventions_ledger WHERE state = %s", (state,)).fetchone()
    return int(row[0]) if row else 0


# --- secrets -----------------------------------------------------------------------------------------------------


def issued_tokens(sync_dsn: str) -> set[str]:
    """The partner tokens the pipeline holds now (``symphonics.api_tokens``, decrypted with the session's key)."""
    from cryptography.fernet import Fernet

    fernet = Fernet(os.environ["AIRFLOW__CORE__FERNET_KEY"].encode())
    with psycopg.connect(sync_dsn) as conn:
        rows = conn.execute("SELECT access_token_encrypted FROM symphonics.api_tokens").fetchall()
    return {fernet.decrypt(bytes(row[0])).decode() for row in rows}


def secret_hits(texts: Iterable[str], secrets: Iterable[str]) -> list[tuple[str, str]]:
    """Every (secret's first 6 characters, line) pair where a secret appears in a line of ``texts``."""
    wanted = [secret for secret in secrets if secret]
    hits: list[tuple[str, str]] = []
    for text in texts:
        for line in text.splitlines():
            hits.extend((secret[:6], line[:200]) for secret in wanted if secret in line)
    return hits


# --- docs/RELIABILITY.md -----------------------------------------------------------------------------------------

_PREAMBLE = """# Reliability

What the fault suite (`tests/faults/`, issue 7) measured on its last complete run: the real publish pipeline, the
webhook receiver and the reconciliation against the partner sandbox (fault injection) and the embedded
PostgreSQL. This file is written by the suite itself (`tests/faults/conftest.py`), never by an ordinary test
run: regenerate it with `SYMPHONICS_WRITE_RELIABILITY=1 .venv/bin/python -m pytest tests/faults` (from the
repository's root, `PYTHONPATH=.`). It is written only when that variable is `1` and every scenario ran and
passed; a partial run (`-k`, a failure) leaves it as it was. It holds counts only (no runtime, no timestamp), so
two identical runs give the same file.

Run the suite alone: `PYTHONPATH=. .venv/bin/python -m pytest tests/faults -q` (part of `make test`).

**Lost**: an intervention expected at the partner that the partner does not hold, or whose ledger row is not
`published`, `updated` or `conflict_unresolved` with its reason `conflict_id_unknown` (the partner holds it; the
reconciliation takes its id from the first webhook event naming its `external_id`,
`include/symphonics/sql/reconcile/complete_conflicts.sql`). **Duplicated**: interventions beyond the first the
sandbox holds for one `external_id` (its admin API, `GET /_sandbox/interventions`). **Server errors**: 5xx
answered by our webhook receiver. **Secrets**: lines of captured logs holding the client secret, an issued
bearer token or the webhook secret. **Faults**: faults injected (SIGKILLs, server stops and restarts, armed
faulty answers, revocations, late deliveries, generated bad rows).
"""

_SCENARIO_NOTES = """## Scenarios

1. `test_sandbox_down.py`: the sandbox process is stopped in the middle of the publish run (its state file keeps
   interventions and tokens), the breaker opens, the run ends `stopped = unavailable` with the rest `ready` or
   `failed_retryable` (never `dead_letter`); the sandbox restarted on the same port, the next run drains the
   backlog. The same with a 503 burst longer than the retries.
2. `test_kill_publish.py`: the publish step runs in a process of its own (`tests/faults/worker.py`); creates are
   slowed down (latency fault) and the process is SIGKILLed while a row is `sending`, its create in flight (the
   sandbox commits it after the client is gone); the next run resends it and the partner's 409 resolves it. Both
   409 modes (`bare`, `with_id`).
3. `test_pg_restart.py`: a second embedded PostgreSQL (`localpg.start_embedded`, a folder of the test's own:
   the session's server is never touched) holds the scenario's `sync` database, migrated; the publish step runs
   in a process of its own against it, creates slowed down, and the server is restarted (`stop_embedded`, fast
   shutdown, then started again) while a create is in flight. The process fails cleanly (its connections are
   gone: it exits with the error, it does not hang); the next run resends the row left `sending` and the
   partner's 409 resolves it. Both 409 modes.
4. `test_concurrent_workers.py`: two runs (a backfill-like run id beside a scheduled one) in two worker processes
   at once, under a daily quota that cannot take every intervention: the sandbox never answers a quota 429, its
   call count stays within the limit, each intervention is created at most once (every create answered 201).
5. `test_partner_faults.py`: tokens revoked in the middle of a run; a 429 storm; creates hanging past the
   client's read timeout; responses lost after the partner committed the create (both 409 modes).
6. `test_late_webhooks.py`: the demo published, the partner decides every intervention while the receiver is
   down (its webhook URL is a loopback port nobody listens on; the sandbox retries each delivery with a backoff
   of 60 to 240 sandbox seconds, `time_scale` 600, until it gives up: more than 5 minutes of partner retries in
   under a second). The stand-alone receiver (`python -m include.symphonics.webhooks`) comes back and every
   event is delivered again re-stamped 400 s in the past (`send_replay(age_seconds=400)`), the partner retrying
   each refused delivery: each attempt is answered 422 `VALIDATION_ERROR`, each event stored once with
   `late = true`, one `status_poll_queue` entry per intervention; the reconciliation's `poll_statuses` step then
   brings each of them to the partner's status in `intervention_sync_state` (history `source = 'poll'`), one
   `GET` per intervention, and the queue is done.
7. Generated webhook traffic (forged, tampered, stale, future, replayed, malformed, oversized, wrongly typed,
   valid; well over 1,000 requests) is `tests/webhooks/test_properties.py`: never a 5xx, nothing stored that
   should not be, each valid event stored once. Not repeated here.
8. `test_bad_app_rows.py`: hypothesis (derandomised, 30 batches of 1 to 6 rows) writes interventions with bad
   or odd values into a scratch app database of the reference schema (set-based: one `COPY` per table): PDL of
   the wrong length, with letters, unicode digits or none; bad PCE; phone garbage, empty, very long; malformed
   e-mails; missing documents or photos; photos without coordinates or timestamp; no completion date; a company
   not onboarded; odd unicode addresses; bad postal codes. The whole publish pipeline runs on each batch: no
   crash, every bad row `invalid` (or `out_of_scope`) with one of its own defects' reasons, every odd but valid
   row published, and not one partner call about a bad row (none at all, `symphonics.api_calls` empty too,
   when the batch has no valid row). A photo whose coordinates are out of range (latitude -90..90, longitude
   -180..180) is `invalid` too, with no partner call.
9. `test_log_secrets.py`: a full demo run (publish with a token revoked mid-run, webhooks into the real
   receiver, the reconciliation's apply and poll steps) with every log captured at DEBUG (the test process's
   root logger, the sandbox's stderr); searched for the client secret, every token the pipeline was issued
   (decrypted from `symphonics.api_tokens` after each step) and the webhook secret.
"""


_OBSERVATIONS = """## Observations

- A create whose client dies while the sandbox's `latency` fault holds it is logged by the sandbox with status
  500 (its handler meets the client's disconnect when it reads the body) and creates nothing: scenario 2
  allows that one 500 in the sandbox's call log.
"""

#: The figures that are a gap when above zero, and how the section names them.
_BAD_FIGURES = {"lost": "lost", "duplicated": "duplicated", "server_errors": "server errors", "secrets": "secrets"}


def known_gaps(figures: list[ScenarioFigures], xfailed: dict[str, str]) -> list[str]:
    """The gaps this run found, computed: each fault test that failed as declared (a strict ``xfail``, with its
    reason) and each case whose lost, duplicated, server-error or secret count is not zero.

    :param figures: the session's figures.
    :param xfailed: the node id and the reason of each fault test that xfailed.
    """
    gaps = [
        f"`{nodeid.removeprefix('tests/faults/')}` (a strict `xfail`): {reason}" for nodeid, reason in xfailed.items()
    ]
    for figure in figures:
        bad = [f"{getattr(figure, name)} {label}" for name, label in _BAD_FIGURES.items() if getattr(figure, name)]
        if bad:
            gaps.append(f"scenario {figure.scenario} ({figure.case}): {', '.join(bad)}")
    return sorted(gaps)


def render_reliability(figures: list[ScenarioFigures], xfailed: dict[str, str] | None = None) -> str:
    """The document, from the session's figures: counts only, so that identical runs give identical text.

    :param figures: what each fault test measured.
    :param xfailed: the node id and the reason of each fault test that xfailed (the declared gaps).
    """
    lines = [_PREAMBLE, "## Figures", ""]
    lines.append("| # | scenario | case | faults injected | lost | duplicated | server errors | secrets found |")
    lines.append("|---|---|---|---:|---:|---:|---:|---:|")
    order = list(SCENARIOS)
    for figure in sorted(figures, key=lambda f: (order.index(f.scenario), f.case)):
        lines.append(
            f"| {figure.scenario} | {SCENARIOS[figure.scenario]} | {figure.case} | {figure.faults} | {figure.lost} "
            f"| {figure.duplicated} | {figure.server_errors} | {figure.secrets} |"
        )
    total = {
        name: sum(getattr(figure, name) for figure in figures)
        for name in ("faults", "lost", "duplicated", "server_errors", "secrets")
    }
    lines.append(
        f"| | **total** | {len(figures)} cases | **{total['faults']}** | **{total['lost']}** "
        f"| **{total['duplicated']}** | **{total['server_errors']}** | **{total['secrets']}** |"
    )
    lines.append("")
    lines.append(_SCENARIO_NOTES)
    lines += ["## Known gaps", ""]
    gaps = known_gaps(figures, xfailed or {})
    if gaps:
        lines += [f"- {gap}" for gap in gaps]
    else:
        lines.append(
            "None in this run (computed by `tests/faults/audit.py:known_gaps`): every fault test passed, none is\n"
            "a declared `xfail`, and no case lost, duplicated, answered a 5xx or logged a secret. A gap found later\n"
            "is written as a strict `xfail` of the suite; its reason is then listed here."
        )
    lines += ["", _OBSERVATIONS]
    return "\n".join(lines)
