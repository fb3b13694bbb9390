"""The project is its own Airflow provider: installed from the lock and in the image, listed by Airflow, and the
connections' Test button is on wherever the stack runs (``make run``, compose).

Static checks of the packaging files (no Docker engine here), and Airflow's own CLI in the project's venv.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from include.symphonics.provider import PACKAGE_NAME, get_provider_info
from include.symphonics_devstack import devstack

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
ENTRY_POINT = "include.symphonics.provider:get_provider_info"


def test_the_distribution_declares_the_provider_entry_point() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["name"] == PACKAGE_NAME
    assert project["project"]["entry-points"]["apache_airflow_provider"] == {"provider_info": ENTRY_POINT}


def test_make_install_installs_it_editable_from_the_lock() -> None:
    assert "-e ." in (ROOT / "requirements.lock").read_text().splitlines()
    dist = metadata.distribution(PACKAGE_NAME)
    (entry,) = [e for e in dist.entry_points if e.group == "apache_airflow_provider"]
    assert entry.value == ENTRY_POINT
    assert entry.load()() == get_provider_info()
    # Editable: the installed distribution is this checkout, not a copy of it.
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    assert direct_url.get("dir_info", {}).get("editable") is True
    assert Path(direct_url["url"].removeprefix("file://")).resolve() == ROOT.resolve()


def test_airflow_providers_list_shows_it() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "airflow", "providers", "list", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
        cwd=ROOT,
    )
    providers = {p["package_name"]: p for p in json.loads(out.stdout[out.stdout.index("[") :])}
    assert PACKAGE_NAME in providers
    assert providers[PACKAGE_NAME]["version"] == metadata.version(PACKAGE_NAME)


def test_the_image_installs_the_provider_from_its_copy_of_the_project() -> None:
    copy_code = DOCKERFILE.index("COPY --chown=airflow:0 include/symphonics/")
    install = re.search(
        r'^RUN pip install --no-cache-dir --no-deps -e "\$\{SYMPHONICS_PROJECT_DIR\}"$', DOCKERFILE, re.M
    )
    assert install is not None
    assert install.start() > copy_code  # the code is in the image before it is installed
    assert re.search(r"^COPY .*pyproject\.toml .*\$\{SYMPHONICS_PROJECT_DIR\}/$", DOCKERFILE, re.M)


def test_compose_enables_the_test_button_by_default() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text())
    value = compose["x-airflow-common"]["environment"]["AIRFLOW__CORE__TEST_CONNECTION"]
    assert value == "${AIRFLOW__CORE__TEST_CONNECTION:-Enabled}"


def test_make_run_enables_the_test_button(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devstack, "_fernet_key", lambda: "a-fernet-key")
    monkeypatch.setattr(devstack, "_signing_key", lambda name: f"a-{name}")
    server = SimpleNamespace(
        admin_url="postgresql://postgres@localhost:5432/postgres",
        socket_dir=None,
        sqlalchemy_url=lambda database: f"postgresql+psycopg2://postgres@localhost:5432/{database}",
    )
    env = devstack.stack_environment(server)  # type: ignore[arg-type]
    assert env["AIRFLOW__CORE__TEST_CONNECTION"] == "Enabled"
