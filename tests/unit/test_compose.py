"""docker-compose.yaml checked statically (no Docker engine runs here): it parses, every long-running
service has a health check, every one-shot has a completion condition, every variable is defined, and the
image agrees with requirements.txt."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
ONE_SHOT = {"airflow-init", "demo-init"}


def test_compose_has_the_components() -> None:
    services = set(COMPOSE["services"])
    assert {
        "postgres",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
        "symphonics-sandbox",
        "symphonics-webhooks",
        "redis",
        "airflow-worker",
    } <= services
    assert COMPOSE["services"]["airflow-worker"]["profiles"] == ["celery"]
    assert COMPOSE["services"]["redis"]["profiles"] == ["celery"]


@pytest.mark.parametrize("name", sorted(set(COMPOSE["services"]) - ONE_SHOT))
def test_long_running_services_have_a_healthcheck(name: str) -> None:
    check = COMPOSE["services"][name].get("healthcheck", {})
    assert check.get("test"), f"{name} has no healthcheck"


def test_components_wait_for_the_init_to_complete() -> None:
    for name, service in COMPOSE["services"].items():
        if (name.startswith("airflow-") or name in ("symphonics-webhooks", "demo-init")) and name != "airflow-init":
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name


def test_every_variable_has_a_default() -> None:
    # ${VAR:-default} or ${VAR-default} is defined; a bare ${VAR} would be empty on a fresh machine.
    # $${...} is an escaped dollar for the container's own shell.
    references = re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}", COMPOSE_TEXT)
    undefined = [name for name, rest in references if not rest.startswith((":-", "-", ":?", "?"))]
    assert undefined == []


def test_every_component_has_the_same_metrics_settings() -> None:
    # The stand-alone receiver initialises Airflow's stats from [metrics] itself: without them it sends nothing.
    names = ("STATSD_ON", "STATSD_HOST", "STATSD_PORT", "STATSD_PREFIX")
    receiver = COMPOSE["services"]["symphonics-webhooks"]["environment"]
    common = COMPOSE["x-airflow-common"]["environment"]
    scheduler = COMPOSE["services"]["airflow-scheduler"].get("environment") or common
    for name in names:
        variable = f"AIRFLOW__METRICS__{name}"
        assert receiver.get(variable), variable
        assert receiver[variable] == scheduler[variable], variable
    assert receiver["AIRFLOW__METRICS__STATSD_ON"] == "${AIRFLOW__METRICS__STATSD_ON:-False}"


def test_the_project_is_mounted_and_importable() -> None:
    common = COMPOSE["x-airflow-common"]
    assert "./:/opt/airflow/project" in common["volumes"]
    assert common["environment"]["PYTHONPATH"] == "/opt/airflow/project"


def test_the_scheduler_and_the_triggerer_have_make_runs_freshness_settings() -> None:
    from include.symphonics_devstack import devstack

    for name in ("airflow-scheduler", "airflow-triggerer"):
        environment = COMPOSE["services"][name]["environment"]
        assert environment["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"] == (
            "${AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME:-" + devstack.SCHEDULER_IDLE_SLEEP_SECONDS + "}"
        ), name
        assert environment["SYMPHONICS_WATCHER_POLL_SECONDS"] == (
            "${SYMPHONICS_WATCHER_POLL_SECONDS:-" + devstack.WATCHER_POLL_SECONDS + "}"
        ), name


def test_image_version_agrees_with_requirements() -> None:
    pinned = re.search(r"^apache-airflow(?:\[[\w,]+\])?==([\d.]+)", (ROOT / "requirements.txt").read_text(), re.M)
    image = re.search(r"^FROM apache/airflow:([\d.]+)-python3\.11 AS base$", (ROOT / "Dockerfile").read_text(), re.M)
    assert pinned
    assert image
    assert pinned.group(1) == image.group(1)
    assert f":{pinned.group(1)}" in COMPOSE["x-airflow-common"]["image"]


# --- issue 19, point 2: no demo secret reaches a deployment -------------------------------------------------

#: The variables a deployment must set; compose refuses to start without each one (``${VAR:?message}``).
REQUIRED_SECRETS = (
    "AIRFLOW_FERNET_KEY",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "SYMPHONICS_WEBHOOK_SECRET",
    "AIRFLOW_CONN_SYMPHONICS_DEFAULT",
)
DEPLOYMENT_ENV = {
    "AIRFLOW_FERNET_KEY": "ZmDfcTF7_60GrrY167zsiPd67pEvs0aGOv2oasOM1Pg=",
    "AIRFLOW_JWT_SECRET": "j" * 64,
    "AIRFLOW_API_SECRET_KEY": "k" * 64,
    "SYMPHONICS_WEBHOOK_SECRET": "w" * 40,
    "AIRFLOW_CONN_SYMPHONICS_DEFAULT": '{"conn_type": "symphonics", "host": "https://api.symphonics.fr"}',
}


def _references(name: str) -> list[str]:
    return re.findall(r"(?<!\$)\$\{" + name + r"([^}]*)\}", COMPOSE_TEXT)


@pytest.mark.parametrize("name", REQUIRED_SECRETS)
def test_each_secret_is_required_never_defaulted(name: str) -> None:
    references = _references(name)
    assert references, f"{name} is not used"
    assert all(rest.startswith(":?") and len(rest) > len(":?") for rest in references), (name, references)


def test_the_secrets_reach_the_components() -> None:
    common = COMPOSE["x-airflow-common"]["environment"]
    assert common["AIRFLOW__CORE__FERNET_KEY"].startswith("${AIRFLOW_FERNET_KEY:?")
    assert common["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?")
    assert common["AIRFLOW__API__SECRET_KEY"].startswith("${AIRFLOW_API_SECRET_KEY:?")
    assert common["AIRFLOW_CONN_SYMPHONICS_DEFAULT"].startswith("${AIRFLOW_CONN_SYMPHONICS_DEFAULT:?")
    receiver = COMPOSE["services"]["symphonics-webhooks"]["environment"]
    assert receiver["SYMPHONICS_WEBHOOK_SECRET"].startswith("${SYMPHONICS_WEBHOOK_SECRET:?")


def test_no_demo_value_is_in_the_file() -> None:
    for demo in ("sandbox-demo-webhook-secret", "sandbox-demo-secret-not-for-production", "wfa-sandbox-demo"):
        assert demo not in COMPOSE_TEXT
    assert "FERNET_KEY:-" not in COMPOSE_TEXT


def test_the_webhook_receiver_is_mounted_in_one_place_only() -> None:
    # The stand-alone service receives; the api-server (and every other component) mounts no receiver.
    assert COMPOSE["x-airflow-common"]["environment"]["SYMPHONICS_WEBHOOKS_ON_API_SERVER"] == "false"
    receivers = [
        name
        for name, service in COMPOSE["services"].items()
        if "include.symphonics.webhooks" in " ".join(map(str, service.get("command") or []))
    ]
    assert receivers == ["symphonics-webhooks"]
    for name, service in COMPOSE["services"].items():
        env = service.get("environment") or COMPOSE["x-airflow-common"]["environment"]
        if name.startswith("airflow-"):
            assert env.get("SYMPHONICS_WEBHOOKS_ON_API_SERVER") == "false", name


def test_the_sandbox_is_a_dev_service_on_loopback() -> None:
    sandbox = COMPOSE["services"]["symphonics-sandbox"]
    assert sandbox["profiles"] == ["dev"]
    assert sandbox["ports"] == ["127.0.0.1:8099:8099"]
    assert sandbox["environment"]["SYMPHONICS_SANDBOX_WEBHOOK_SECRET"].startswith("${SYMPHONICS_WEBHOOK_SECRET:?")
    # Published ports are loopback-only unless the service is meant to be reached (UI, partner's webhooks).
    for name, service in COMPOSE["services"].items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:") or name in ("airflow-apiserver", "symphonics-webhooks"), (name, port)


def test_the_webhook_mount_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    plugin = ROOT / "plugins" / "symphonics_webhooks.py"
    mounted = {}
    for value in ("false", "true"):
        monkeypatch.setenv("SYMPHONICS_WEBHOOKS_ON_API_SERVER", value)
        spec = importlib.util.spec_from_file_location(f"symphonics_webhooks_{value}", plugin)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        mounted[value] = (
            len(module.SymphonicsWebhooksPlugin.fastapi_apps),
            len(module.SymphonicsWebhooksPlugin.fastapi_root_middlewares),
        )
    assert mounted == {"false": (0, 0), "true": (1, 1)}


def _compose_cli() -> list[str] | None:
    for argv in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(argv[0]) is None:
            continue
        probe = subprocess.run([*argv, "version"], capture_output=True, text=True, check=False, timeout=30)
        if probe.returncode == 0:
            return argv
    return None


def _compose_config(cli: list[str], env: dict[str, str], *profiles: str) -> subprocess.CompletedProcess[str]:
    argv = [*cli, "-f", str(ROOT / "docker-compose.yaml")]
    for profile in profiles:
        argv += ["--profile", profile]
    clean = {k: v for k, v in os.environ.items() if k not in REQUIRED_SECRETS}
    return subprocess.run(
        [*argv, "config", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=ROOT,
        env={**clean, **env, "COMPOSE_PROJECT_NAME": "symphonics-config-test"},
    )


def test_compose_config_refuses_to_start_without_the_secrets() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip(
            "the Docker CLI here has no compose plugin (`docker compose version` fails); the static tests above hold"
        )
    if (ROOT / ".env").exists():
        pytest.skip("a .env in the project folder would supply the variables")
    assert _compose_config(cli, DEPLOYMENT_ENV).returncode == 0
    assert _compose_config(cli, DEPLOYMENT_ENV, "dev", "celery").returncode == 0
    for name in REQUIRED_SECRETS:
        missing = {k: v for k, v in DEPLOYMENT_ENV.items() if k != name}
        result = _compose_config(cli, missing)
        assert result.returncode != 0, name
        assert name in result.stderr, result.stderr


def test_the_stand_ins_run_from_the_dev_target_and_only_in_the_dev_profile() -> None:
    assert COMPOSE["x-airflow-common"]["build"]["target"] == "prod"
    for name in ("symphonics-sandbox", "demo-init"):
        service = COMPOSE["services"][name]
        assert service["build"]["target"] == "dev", name
        assert service["profiles"] == ["dev"], name
    # The product's own services never run a stand-in.
    for name, service in COMPOSE["services"].items():
        if service.get("build", COMPOSE["x-airflow-common"]["build"])["target"] == "prod" and "command" in service:
            command = " ".join(service["command"]) if isinstance(service["command"], list) else service["command"]
            for stand_in in ("symphonics_sandbox", "symphonics_demo", "symphonics_devstack"):
                assert stand_in not in command, (name, stand_in)
