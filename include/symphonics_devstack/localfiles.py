"""Local files that hold secrets (``.local/`` of ``make run``, ``$AIRFLOW_HOME`` of compose's init).

A secret file is created with mode 0600 by ``os.open`` (never written, then chmod-ed: between the two, another
user could open it), written to a temporary name and renamed, so a reader never sees half a key. Folders that
hold secrets or logs are 0700.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

SECRET_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
#: What ``make run`` (and the processes it starts) create files with: nothing for group or others.
PRIVATE_UMASK = 0o077


def private_dir(path: Path) -> Path:
    """Create ``path`` (and its missing parents) mode 0700, or narrow an existing one to 0700.

    :param path: the folder.
    """
    old_umask = os.umask(PRIVATE_UMASK)
    try:
        path.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    finally:
        os.umask(old_umask)
    if stat.S_IMODE(path.stat().st_mode) != PRIVATE_DIR_MODE:
        path.chmod(PRIVATE_DIR_MODE)  # a folder left by an older version: no secret is written through it here
    return path


def write_secret(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, created 0600 from the start and swapped in atomically.

    :param path: the file; its folder must exist.
    :param text: the content.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, SECRET_FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def read_or_create_secret(path: Path, generate: Callable[[], str]) -> str:
    """The secret kept in ``path``, generated (and written 0600) the first time.

    :param path: the file.
    :param generate: makes a new secret.
    """
    if not path.exists():
        write_secret(path, generate())
    elif stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(SECRET_FILE_MODE)  # a key written by an older version, readable by others: close it now
    return path.read_text(encoding="utf-8").strip()
