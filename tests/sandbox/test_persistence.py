"""With a state_file, interventions and tokens survive a restart; without one, a restart forgets them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.sandbox import SandboxAdmin, start_sandbox
from tests.sandbox.documented_examples import create_request
from tests.sandbox.partner import PartnerCaller

pytestmark = pytest.mark.integration  # a real sandbox over loopback


def test_state_survives_a_restart(tmp_path: Path) -> None:
    config = {"state_file": str(tmp_path / "sandbox.sqlite3")}
    server = start_sandbox(config, workdir=tmp_path)
    try:
        admin = SandboxAdmin(server.url)
        partner = PartnerCaller(admin)
        created = partner.create(create_request("int_persist")).json()
        admin.settle()
        port = server.port
    finally:
        server.stop()
    server = start_sandbox(config, port=port, workdir=tmp_path)
    try:
        assert SandboxAdmin(server.url).health()["persistent"] is True
        partner.http.headers["Authorization"] = f"Bearer {partner.token}"  # the old token still works
        body = partner.get(f"/crm/interventions/{created['id']}").json()
        assert body["status"] == "approved"
        assert body["external_id"] == "int_persist"
        assert partner.create(create_request("int_persist")).status_code == 409
        SandboxAdmin(server.url).reset()  # the daily reset empties the file too
    finally:
        server.stop()
    server = start_sandbox(config, port=port, workdir=tmp_path)
    try:
        admin = SandboxAdmin(server.url)
        assert admin.interventions() == []
    finally:
        server.stop()


def test_memory_state_is_forgotten_on_restart(tmp_path: Path) -> None:
    server = start_sandbox({}, workdir=tmp_path)
    try:
        admin = SandboxAdmin(server.url)
        PartnerCaller(admin).create(create_request("int_volatile"))
        assert len(admin.interventions()) == 1
        port = server.port
    finally:
        server.stop()
    server = start_sandbox({}, port=port, workdir=tmp_path)
    try:
        assert SandboxAdmin(server.url).interventions() == []
    finally:
        server.stop()
