"""Configuration: YAML, CLI flags, defaults and refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from include.symphonics_sandbox.config import ConfigError, SandboxConfig, config_from_dict, load_config
from tests.fixtures.sandbox import REPO_ROOT


def test_defaults_are_the_documented_behaviour() -> None:
    config = SandboxConfig()
    assert (config.rate_limit_per_minute, config.rate_limit_per_day) == (100, 5000)
    assert config.token_expires_in == 3600
    assert config.conflict_mode == "bare"
    assert config.accept_gzip is False
    assert config.webhook_url is None
    assert [c.client_id for c in config.clients] == ["wfa-sandbox-demo"]


def test_yaml_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "sandbox.yaml"
    path.write_text(
        "time_scale: 60\nconflict_mode: with_id\nwebhook_retry: {max_attempts: 2}\n"
        "clients:\n  - {client_id: a, client_secret: b, allowed_routes: [validation]}\n",
        encoding="utf-8",
    )
    config = load_config(path, {"port": 9001})
    assert (config.time_scale, config.conflict_mode, config.port) == (60, "with_id", 9001)
    assert config.webhook_retry.max_attempts == 2
    assert config.clients[0].allowed_routes == ("validation",)


@pytest.mark.parametrize(
    "data",
    [
        {"unknown_key": 1},
        {"time_scale": -1},
        {"conflict_mode": "loud"},
        {"clients": []},
        {"clients": [{"client_id": "a"}]},
        {"clients": [{"client_id": "a", "client_secret": "b", "allowed_routes": ["nowhere"]}]},
        {"webhook_url": "ftp://x"},
        {"faults": {"burst": {"nowhere": 1}}},
        {"faults": {"error_rate": {"*": 1.5}}},
        {"rate_limit_per_minute": 0},
        {"accept_gzip": "yes"},
    ],
)
def test_refusals(data: dict) -> None:
    with pytest.raises(ConfigError):
        config_from_dict(data)


def test_cli_refuses_a_bad_config_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("time_scale: nope\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "include.symphonics_sandbox", "--config", str(path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "time_scale" in result.stderr
