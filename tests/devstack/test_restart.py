"""A second ``make run`` after ``make stop``: the embedded PostgreSQL starts again on the data it kept.

Run as root, pgserver starts the server as a system user of its own, which must pass through ``.local/`` to reach
its data folder; ``make run`` keeps ``.local/`` private (0700, or 0711 as root). A first start worked while a
restart was refused ("pg_ctl: could not access directory .local/pg: Permission denied").
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psycopg
import pytest

from include.symphonics_devstack import devstack, localpg
from tests.fixtures.sandbox import free_port

pytestmark = pytest.mark.integration


def test_the_embedded_server_starts_again_after_a_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local_dir = tmp_path / "local"
    monkeypatch.setattr(devstack, "LOCAL_DIR", local_dir)
    monkeypatch.delenv(localpg.PG_URL_ENV, raising=False)
    tcp_port = free_port()  # as make run opens it (the restart path that failed is the one with a TCP port)
    try:
        for start in ("first", "second"):
            server = devstack.start_postgres(tcp_port)
            with psycopg.connect(server.admin_url) as conn:
                assert conn.execute("SELECT 1").fetchone() == (1,), start
            expected = 0o711 if os.geteuid() == 0 else 0o700
            assert stat.S_IMODE(local_dir.stat().st_mode) == expected, start
            assert localpg.stop_embedded(local_dir / "pg"), start
    finally:
        localpg.stop_embedded(local_dir / "pg")
