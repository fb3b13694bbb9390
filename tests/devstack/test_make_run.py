"""``make run`` as a user starts it, in a folder of its own: what listens where, and what it leaves on disk.

Issue 19, points 1, 3 and 4; issue 12, point 5. The stack runs in its own ``SYMPHONICS_LOCAL_DIR`` (its own
embedded PostgreSQL, Airflow home and logs) on free ports, so it never meets a developer's running demo.
Listeners are read from ``/proc/net/tcp`` and ``/proc/net/tcp6``, matched to the stack's processes through their
socket inodes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.fixtures.sandbox import REPO_ROOT, free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

STARTUP_TIMEOUT = 600.0  # a shared two-core machine: Airflow's migration and four components take a while
TCP_LISTEN = "0A"
SECRET_FILES = (
    "sandbox_admin.token",
    "airflow/fernet.key",
    "airflow/jwt_secret",
    "airflow/api_secret_key",
    "airflow/airflow.cfg",
    "airflow/airflow_settings.key",
    "airflow/airflow_settings.applied.json",
    "airflow/simple_auth_manager_passwords.json.generated",
    "airflow.env",
)


@dataclass(frozen=True)
class Listener:
    address: str
    port: int
    pid: int


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    local_dir: Path
    ports: dict[str, int]
    output: Path

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def descendants(self) -> set[int]:
        """The runner and every process below it (Airflow's components, their workers, the sandbox)."""
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
        found, todo = set(), [self.process.pid]
        while todo:
            pid = todo.pop()
            if pid not in found:
                found.add(pid)
                todo.extend(children.get(pid, []))
        return found


def _decode_address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # /proc/net/tcp6 stores the address as four little-endian 32-bit words.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    return socket.inet_ntop(socket.AF_INET6, words)


def listeners_of(pids: set[int]) -> list[Listener]:
    """Every listening TCP socket (IPv4 and IPv6) held by one of ``pids``, from ``/proc``."""
    owner: dict[str, int] = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    owner[target[len("socket:[") : -1]] = pid
        except OSError:
            continue  # the process ended meanwhile
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == TCP_LISTEN and inode in owner:
                address, port = local.split(":")
                found.append(Listener(_decode_address(address), int(port, 16), owner[inode]))
    return found


def _clean_environment() -> dict[str, str]:
    # The test session's own Airflow and Symphonics settings (its test databases, its AIRFLOW_HOME) stay out.
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SYMPHONICS_"))}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    local_dir = tmp_path_factory.mktemp("make-run") / "local"
    ports = {name: free_port() for name in ("airflow", "sandbox", "worker_logs", "trigger_logs")}
    env = {
        **_clean_environment(),
        "PYTHONPATH": str(REPO_ROOT),
        "SYMPHONICS_LOCAL_DIR": str(local_dir),
        "SYMPHONICS_AIRFLOW_PORT": str(ports["airflow"]),
        "SYMPHONICS_SANDBOX_PORT": str(ports["sandbox"]),
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports["worker_logs"]),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports["trigger_logs"]),
        # Its own analysts' port: a `make run` of the developer's may hold the default one.
        "SYMPHONICS_PG_TCP_PORT": str(free_port()),
        "SYMPHONICS_DEMO_INTERVENTIONS": "5",
    }
    output = local_dir.parent / "make-run.out"
    with output.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "include.symphonics_devstack.devstack", "run"],
            cwd=REPO_ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    running = RunningStack(process, local_dir, ports, output)
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"make run exited with {process.returncode}:\n{output.read_text()[-4000:]}")
            listening = {listener.port for listener in listeners_of(running.descendants())}
            if "Airflow UI:" in output.read_text() and set(ports.values()) <= listening:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"make run not up within {STARTUP_TIMEOUT:.0f} s:\n{output.read_text()[-4000:]}")
            time.sleep(1)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # what `make stop` sends the runner: it stops everything in order
            try:
                process.wait(timeout=180)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=30)


def test_every_listener_of_the_stack_is_on_loopback(stack: RunningStack) -> None:
    listeners = listeners_of(stack.descendants())
    by_port = {listener.port: listener for listener in listeners}
    # The four that must be there (a missing one would make "all on loopback" trivially true).
    assert set(stack.ports.values()) <= set(by_port), (stack.ports, listeners)
    assert [listener for listener in listeners if listener.address != "127.0.0.1"] == []


def test_local_files_are_private(stack: RunningStack) -> None:
    loose = []
    for path in [stack.local_dir, *stack.local_dir.rglob("*")]:
        try:
            info = path.lstat()
        except FileNotFoundError:
            continue  # a temporary file that went meanwhile
        if stat.S_ISSOCK(info.st_mode) or stat.S_ISLNK(info.st_mode):
            continue
        mode = stat.S_IMODE(info.st_mode)
        if path == stack.local_dir and os.geteuid() == 0:
            # Run as root, the embedded PostgreSQL's own system user must pass through to its data folder.
            if mode != 0o711:
                loose.append((str(path), oct(mode)))
        elif mode & 0o077:
            loose.append((str(path), oct(mode)))
    assert loose == []
    for name in SECRET_FILES:
        assert stat.S_IMODE((stack.local_dir / name).stat().st_mode) == 0o600, name
    for folder in ("airflow", "logs"):
        assert stat.S_IMODE((stack.local_dir / folder).stat().st_mode) == 0o700, folder


def test_the_settings_fingerprints_are_keyed(stack: RunningStack) -> None:
    document = json.loads((stack.local_dir / "airflow" / "airflow_settings.applied.json").read_text())
    assert document["format"] == 2
    fingerprints = document["fingerprints"]
    assert "connection:symphonics_default" in fingerprints
    assert all(value.startswith("hmac-sha256:") for value in fingerprints.values())
    assert "sandbox-demo" not in json.dumps(document)


def test_the_keys_are_64_bytes_and_no_warning_comes_from_them(stack: RunningStack) -> None:
    for name in ("jwt_secret", "api_secret_key"):
        assert len((stack.local_dir / "airflow" / name).read_text().strip().encode()) == 64, name
    # A login makes the api-server sign a JWT with its secret: PyJWT warns there when the key is short.
    session = requests.Session()
    session.trust_env = False
    token = session.post(
        f"{stack.url('airflow')}/auth/token", json={"username": "admin", "password": "admin"}, timeout=60
    )
    assert token.status_code in (200, 201), token.text
    assert session.get(
        f"{stack.url('airflow')}/api/v2/dags",
        headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        timeout=60,
    ).ok
    logs = "".join(path.read_text(errors="replace") for path in (stack.local_dir / "logs").glob("*.log"))
    assert "InsecureKeyLengthWarning" not in logs
    assert "HMAC key is" not in logs


def test_the_sandbox_admin_api_needs_the_generated_token(stack: RunningStack) -> None:
    token = (stack.local_dir / "sandbox_admin.token").read_text().strip()
    assert len(token) >= 32
    session = requests.Session()
    session.trust_env = False
    url = f"{stack.url('sandbox')}/_sandbox/config"
    assert session.get(url, timeout=30).status_code == 401
    shown = session.get(url, headers={"X-Sandbox-Admin-Token": token}, timeout=30)
    assert shown.status_code == 200
    assert shown.json()["webhook_secret"] == "***"
    # Never on a command line, where any local user reads it.
    for pid in stack.descendants():
        try:
            assert token not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except FileNotFoundError:
            continue


def _another_shell(stack: RunningStack) -> dict[str, str]:
    """A second shell's environment: none of the stack's settings, only where its local folder is."""
    return {**_clean_environment(), "PYTHONPATH": str(REPO_ROOT), "SYMPHONICS_LOCAL_DIR": str(stack.local_dir)}


def test_make_status_prints_the_port_the_stack_runs_on(stack: RunningStack) -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "include.symphonics_devstack", "status"],
        cwd=REPO_ROOT,
        env=_another_shell(stack),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert f"Airflow UI http://localhost:{stack.ports['airflow']}," in shown
    assert stack.ports["airflow"] != 8080  # the shell's default would print 8080


def _dag_ids(output: str) -> set[str]:
    """The DAG ids of ``airflow dags list --output json`` (its JSON is the last line; log lines may come first)."""
    (listing,) = [line for line in output.splitlines() if line.startswith("[{")]
    return {dag["dag_id"] for dag in json.loads(listing)}


def test_airflows_cli_runs_against_the_stack_from_another_shell(stack: RunningStack) -> None:
    # What the README's CLI examples use: `make airflow ARGS="..."` (the make target runs this module).
    listed = subprocess.run(
        [sys.executable, "-m", "include.symphonics_devstack", "airflow", "dags", "list", "--output", "json"],
        cwd=REPO_ROOT,
        env=_another_shell(stack),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr[-2000:]
    dag_ids = _dag_ids(listed.stdout)
    assert {"symphonics_publish", "symphonics_reconcile", "symphonics_privacy_erasure"} <= dag_ids
    assert "airflow db migrate" not in listed.stdout + listed.stderr
    # The same settings, sourced by a shell.
    sourced = subprocess.run(
        ["bash", "-c", f'set -a; . {stack.local_dir / "airflow.env"}; set +a; echo "$AIRFLOW_HOME"'],
        env=_another_shell(stack),
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert sourced.stdout.strip() == str(stack.local_dir / "airflow")


def test_airflows_cli_says_how_to_start_the_stack_when_it_is_not_running(tmp_path: Path) -> None:
    refused = subprocess.run(
        [sys.executable, "-m", "include.symphonics_devstack", "airflow", "dags", "list"],
        cwd=REPO_ROOT,
        env={**_clean_environment(), "PYTHONPATH": str(REPO_ROOT), "SYMPHONICS_LOCAL_DIR": str(tmp_path / "none")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert refused.returncode == 1
    assert "start it with `make run`" in refused.stderr
