"""Secret files are created 0600 from the start, their folders 0700 (issue 19, point 4)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from include.symphonics_devstack import localfiles


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The most permissive umask: whatever comes out private was made private by the code, not by the umask."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_a_secret_is_created_0600_and_never_exists_wider(
    tmp_path: Path, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    real_open = os.open

    def watching_open(path: str | os.PathLike[str], flags: int, mode: int = 0o777, *args: object) -> int:
        descriptor = real_open(path, flags, mode, *args)
        seen.append(stat.S_IMODE(os.fstat(descriptor).st_mode))  # the mode the file was born with
        return descriptor

    monkeypatch.setattr(os, "open", watching_open)
    target = tmp_path / "fernet.key"
    localfiles.write_secret(target, "s3cret")
    assert seen == [0o600]
    assert _mode(target) == 0o600
    assert target.read_text() == "s3cret"
    assert [p.name for p in tmp_path.iterdir()] == ["fernet.key"]  # no temporary file left


def test_a_secret_is_generated_once(tmp_path: Path, open_umask: None) -> None:
    calls: list[int] = []

    def generate() -> str:
        calls.append(1)
        return f"value-{len(calls)}"

    target = tmp_path / "jwt_secret"
    assert localfiles.read_or_create_secret(target, generate) == "value-1"
    assert localfiles.read_or_create_secret(target, generate) == "value-1"
    assert calls == [1]
    assert _mode(target) == 0o600


def test_an_old_world_readable_secret_is_closed(tmp_path: Path) -> None:
    target = tmp_path / "fernet.key"
    target.write_text("old-key")
    target.chmod(0o644)
    assert localfiles.read_or_create_secret(target, lambda: "new-key") == "old-key"
    assert _mode(target) == 0o600


def test_private_folders_are_0700_new_or_old(tmp_path: Path, open_umask: None) -> None:
    new = localfiles.private_dir(tmp_path / "a" / "logs")
    assert _mode(new) == 0o700
    assert _mode(tmp_path / "a") == 0o700  # its missing parents too
    old = tmp_path / "old"
    old.mkdir(mode=0o755)
    assert _mode(localfiles.private_dir(old)) == 0o700
