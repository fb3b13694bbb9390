"""The dev stack's Celery broker: a ``redis-server`` on the PATH is started when none answers (integration: a real
redis-server; the rest of ``devcelery`` is tested in ``tests/unit/test_devcelery.py``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from include.symphonics_devstack import devcelery


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="no redis-server on the PATH")
def test_a_redis_server_from_the_path_is_started_when_none_answers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(devcelery.REDIS_URL_ENV, raising=False)
    monkeypatch.setattr(devcelery, "LOCAL_REDIS_URL", "redis://127.0.0.1:9/0")
    broker = devcelery.find_broker(tmp_path / "redis", tmp_path / "redis.log")
    try:
        assert broker.process is not None
        assert devcelery.redis_answers(broker.url)
        assert "redis-server started" in broker.how
        assert devcelery.live_workers(broker.url, timeout=0.5) == []  # no worker on a fresh broker
    finally:
        assert broker.process is not None
        broker.process.terminate()
        broker.process.wait(timeout=10)
    assert not devcelery.redis_answers(broker.url)
