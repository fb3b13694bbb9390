"""The image carries the project, and compose's Celery profile runs with the settings of the local Celery run.

Static checks of Dockerfile, .dockerignore and docker-compose.yaml, plus ``docker compose config`` where the
Docker CLI has its compose plugin (no engine is needed for it).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from include.symphonics_devstack import devcelery

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
COMMON_ENV = COMPOSE["x-airflow-common"]["environment"]
#: What a run sets from its own broker and database, not a fixed setting.
PER_RUN = {"AIRFLOW__CORE__EXECUTOR", "AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND"}


def _dockerfile_env() -> dict[str, str]:
    """The ``ENV`` values of the Dockerfile, ``${VAR}`` expanded from the earlier ones."""
    values: dict[str, str] = {}
    for body in re.findall(r"^ENV (.+?)(?<!\\)$", DOCKERFILE, re.M | re.S):
        for name, value in re.findall(r"([A-Z_][A-Z0-9_]*)=(\S+)", body.replace("\\\n", " ")):
            values[name] = re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], value)
    return values


def test_the_image_copies_the_project_where_the_path_points() -> None:
    env = _dockerfile_env()
    project = env["SYMPHONICS_PROJECT_DIR"]
    copies = re.findall(r"^COPY (?:--chown=\S+ )?(.+)$", DOCKERFILE, re.M)
    targets = {
        source: dest.replace("${SYMPHONICS_PROJECT_DIR}", project)
        for *sources, dest in (c.split() for c in copies)
        for source in sources
    }
    for folder in ("dags/", "include/symphonics/", "plugins/"):
        assert targets.get(folder) == f"{project}/{folder}", folder
    assert targets.get("include/__init__.py") == f"{project}/include/"
    assert targets.get("airflow_settings.yaml") == f"{project}/"
    # The image alone imports include.symphonics and finds the DAGs and plugins: no bind mount needed.
    assert env["PYTHONPATH"] == project
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == f"{project}/dags"
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == f"{project}/plugins"
    # Compose's paths are the image's, so its development mount only overlays the same files.
    assert COMMON_ENV["PYTHONPATH"] == project
    assert COMMON_ENV["AIRFLOW__CORE__DAGS_FOLDER"] == f"{project}/dags"
    assert COMMON_ENV["AIRFLOW__CORE__PLUGINS_FOLDER"] == f"{project}/plugins"


def test_the_image_installs_dependencies_before_the_code() -> None:
    install = DOCKERFILE.index("RUN pip install")
    assert (
        DOCKERFILE.index("COPY requirements-image.txt")
        < install
        < DOCKERFILE.index("COPY --chown=airflow:0 include/symphonics/")
    )


def test_the_build_context_leaves_local_state_out() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip()}
    assert {".git", ".venv", ".local", ".env"} <= ignored


def test_compose_celery_settings_are_the_local_runs() -> None:
    local = devcelery.celery_environment(
        "redis://redis:6379/0", "postgresql+psycopg2://airflow:airflow@postgres/airflow"
    )
    fixed = {key: value for key, value in local.items() if key not in PER_RUN}
    assert fixed
    assert {key: COMMON_ENV.get(key) for key in fixed} == fixed
    worker = COMPOSE["services"]["airflow-worker"]
    assert worker["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert COMMON_ENV["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
    local_flags = [arg for arg in devcelery.worker_argv(1, serve_logs=True) if arg.startswith("--without")]
    assert worker["command"].split()[:2] == ["celery", "worker"]
    assert sorted(arg for arg in worker["command"].split() if arg.startswith("--without")) == sorted(local_flags)


def _compose_plugin() -> str | None:
    """Why ``docker compose`` cannot run here, or ``None`` when it can."""
    if shutil.which("docker") is None:
        return "no docker CLI on this machine"
    result = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        return "the docker CLI has no compose plugin (`docker compose version` fails)"
    return None


@pytest.mark.skipif(_compose_plugin() is not None, reason=str(_compose_plugin()))
def test_docker_compose_config_resolves_the_celery_profile(tmp_path: Path) -> None:
    result = subprocess.run(
        ["docker", "compose", "--project-directory", str(ROOT), "--profile", "celery", "config", "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    import json

    services = json.loads(result.stdout)["services"]
    assert {"redis", "airflow-worker", "airflow-scheduler"} <= set(services)
    assert services["airflow-worker"]["environment"]["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"


def _stage(name: str) -> str:
    """The instructions of one stage of the Dockerfile (``FROM ... AS name`` up to the next ``FROM``)."""
    stages = re.split(r"^(?=FROM )", DOCKERFILE, flags=re.M)
    (stage,) = [s for s in stages if re.match(rf"FROM \S+ AS {name}$", s.splitlines()[0] if s else "")]
    return stage


def test_the_prod_image_carries_the_product_without_the_stand_ins() -> None:
    stand_ins = ("symphonics_sandbox", "symphonics_demo", "symphonics_devstack")
    # prod is the last stage (what a plain `docker build .` gives) and adds nothing to the shared base.
    assert re.findall(r"^FROM .+$", DOCKERFILE, re.M)[-1] == "FROM base AS prod"
    base = _stage("base")
    base_copies = re.findall(r"^COPY (?:--chown=\S+ )?(.+)$", base, re.M)
    assert not any(stand_in in copy for copy in base_copies for stand_in in stand_ins)
    assert not re.search(r"^COPY (?:--chown=\S+ )?include/ ", base, re.M)
    assert "COPY" not in _stage("prod")
    # dev adds exactly the three stand-ins.
    dev_copies = re.findall(r"^COPY (?:--chown=\S+ )?(\S+) ", _stage("dev"), re.M)
    assert sorted(dev_copies) == sorted(f"include/{s}/" for s in stand_ins)
