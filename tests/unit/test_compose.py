"""docker-compose.yaml checked statically (no Docker engine runs here): it parses, every long-running
service has a health check, every one-shot has a completion condition, every variable is defined, and the
image agrees with requirements.txt."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
ONE_SHOT = {"airflow-init"}


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
        if (name.startswith("airflow-") or name == "symphonics-webhooks") and name not in ONE_SHOT:
            assert service["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully", name


def test_every_variable_has_a_default() -> None:
    # ${VAR:-default} or ${VAR-default} is defined; a bare ${VAR} would be empty on a fresh machine.
    # $${...} is an escaped dollar for the container's own shell.
    references = re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)([^}]*)\}", COMPOSE_TEXT)
    undefined = [name for name, rest in references if not rest.startswith((":-", "-", ":?", "?"))]
    assert undefined == []


def test_the_project_is_mounted_and_importable() -> None:
    common = COMPOSE["x-airflow-common"]
    assert "./:/opt/airflow/project" in common["volumes"]
    assert common["environment"]["PYTHONPATH"] == "/opt/airflow/project"


def test_image_version_agrees_with_requirements() -> None:
    pinned = re.search(r"^apache-airflow==([\d.]+)", (ROOT / "requirements.txt").read_text(), re.M)
    image = re.search(r"^FROM apache/airflow:([\d.]+)-python3\.11$", (ROOT / "Dockerfile").read_text(), re.M)
    assert pinned
    assert image
    assert pinned.group(1) == image.group(1)
    assert f":{pinned.group(1)}" in COMPOSE["x-airflow-common"]["image"]
