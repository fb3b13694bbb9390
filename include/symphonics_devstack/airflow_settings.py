"""Apply ``airflow_settings.yaml`` (the Astro format) to the local Airflow's metadata database.

Airflow's own import commands read only their native formats (and ``pools import`` only JSON), so this
small loader reads the Astro file::

    airflow:
      connections: [{conn_id, conn_type, conn_host, conn_schema, conn_login, conn_password, conn_port,
                     conn_extra}]
      pools: [{pool_name, pool_slot, pool_description}]
      variables: [{variable_name, variable_value}]

Rules, so that a re-run never undoes an operator's work:

- what is missing is created;
- what still holds the value this loader wrote last time is brought up to date with the file;
- what an operator changed since (in the UI or the CLI) is left alone, and said so;
- a connection also defined by an ``AIRFLOW_CONN_<ID>`` environment variable is skipped: the
  environment always wins.

``${NAME}`` in a value is replaced by the environment variable ``NAME`` at load time (the embedded
PostgreSQL's socket folder, for instance, is only known once the server runs).

What the loader last wrote is remembered as fingerprints in a state file next to ``airflow.cfg``. A
connection's fingerprint covers its password and extras, so it is keyed (HMAC-SHA256 under a random key kept
beside it, mode 0600): a plain hash of a known demo value could be recomputed offline and matched.

Usage: ``python -m include.symphonics_devstack.airflow_settings [--file airflow_settings.yaml] [--state FILE]``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from include.symphonics_devstack.localfiles import read_or_create_secret, write_secret

log = logging.getLogger(__name__)

#: Version of the state file; version 1 was a flat mapping of unkeyed SHA-256 fingerprints.
STATE_FORMAT = 2
FINGERPRINT_PREFIX = "hmac-sha256:"

_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


class SettingsError(ValueError):
    """The settings file is not valid; the message names the entry and the problem."""


@dataclass(frozen=True)
class ConnectionSetting:
    conn_id: str
    conn_type: str
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class PoolSetting:
    name: str
    slots: int
    description: str = ""


@dataclass(frozen=True)
class VariableSetting:
    key: str
    value: str
    description: str | None = None


@dataclass(frozen=True)
class Settings:
    connections: list[ConnectionSetting] = field(default_factory=list)
    pools: list[PoolSetting] = field(default_factory=list)
    variables: list[VariableSetting] = field(default_factory=list)


@dataclass
class ApplyReport:
    """What :func:`apply_settings` did, entry by entry (``kind:name``)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept_operator_change: list[str] = field(default_factory=list)
    skipped_env: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"{len(self.created)} created",
            f"{len(self.updated)} updated",
            f"{len(self.unchanged)} unchanged",
        ]
        if self.kept_operator_change:
            parts.append(f"kept as changed by an operator: {', '.join(self.kept_operator_change)}")
        if self.skipped_env:
            parts.append(f"defined by the environment: {', '.join(self.skipped_env)}")
        return "; ".join(parts)


def _interpolate(value: Any, where: str) -> Any:
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise SettingsError(f"{where}: ${{{name}}} is used but the environment variable {name} is not set")
        return os.environ[name]

    return _PLACEHOLDER.sub(replace, value)


def _require(entry: dict[str, Any], key: str, where: str) -> Any:
    if entry.get(key) in (None, ""):
        raise SettingsError(f"{where}: '{key}' is required")
    return entry[key]


def parse_settings(text: str, source: str = "airflow_settings.yaml") -> Settings:
    """Parse and validate the Astro-format ``text``; ``${VAR}`` placeholders are filled from the environment."""
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise SettingsError(f"{source} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("airflow", {}), dict):
        raise SettingsError(f"{source}: the top level must be a mapping with an 'airflow' key")
    airflow = document.get("airflow") or {}

    connections = []
    for index, entry in enumerate(airflow.get("connections") or []):
        where = f"{source}: connections[{index}]"
        conn_id = _require(entry, "conn_id", where)
        where = f"{source}: connection {conn_id!r}"
        extra = entry.get("conn_extra")
        if isinstance(extra, dict):
            extra = json.dumps({k: _interpolate(v, where) for k, v in extra.items()}, sort_keys=True)
        elif extra not in (None, ""):
            extra = _interpolate(str(extra), where)
            try:
                json.loads(extra)
            except ValueError as exc:
                raise SettingsError(f"{where}: conn_extra is not JSON ({exc})") from exc
        else:
            extra = None
        port = _interpolate(entry.get("conn_port"), where)
        try:
            port = int(port) if port not in (None, "") else None
        except ValueError as exc:
            raise SettingsError(f"{where}: conn_port {port!r} is not a number") from exc
        connections.append(
            ConnectionSetting(
                conn_id=conn_id,
                conn_type=_require(entry, "conn_type", where),
                host=_interpolate(entry.get("conn_host"), where) or None,
                schema=_interpolate(entry.get("conn_schema"), where) or None,
                login=_interpolate(entry.get("conn_login"), where) or None,
                password=_interpolate(entry.get("conn_password"), where) or None,
                port=port,
                extra=extra,
                description=entry.get("conn_description"),
            )
        )

    pools = []
    for index, entry in enumerate(airflow.get("pools") or []):
        where = f"{source}: pools[{index}]"
        slots = _require(entry, "pool_slot", where)
        if not isinstance(slots, int) or slots < 0:
            raise SettingsError(f"{where}: pool_slot must be a whole number >= 0, not {slots!r}")
        pools.append(PoolSetting(_require(entry, "pool_name", where), slots, entry.get("pool_description", "")))

    variables = []
    for index, entry in enumerate(airflow.get("variables") or []):
        where = f"{source}: variables[{index}]"
        value = entry.get("variable_value")
        if value is None:
            raise SettingsError(f"{where}: 'variable_value' is required")
        text_value = value if isinstance(value, str) else json.dumps(value)
        variables.append(
            VariableSetting(
                _require(entry, "variable_name", where),
                _interpolate(text_value, where),
                entry.get("variable_description"),
            )
        )
    return Settings(connections, pools, variables)


def _canonical(values: dict[str, Any]) -> bytes:
    return json.dumps(values, sort_keys=True, default=str).encode()


class Fingerprints:
    """The loader's memory of what it wrote: keyed fingerprints, read from and written to the state file.

    :param state_file: the JSON state file (created 0600).
    :param key_file: the HMAC key (default: ``airflow_settings.key`` beside the state file; created 0600).
    """

    def __init__(self, state_file: Path, key_file: Path | None = None) -> None:
        self.state_file = state_file
        self.key_file = key_file or state_file.with_name("airflow_settings.key")
        state_file.parent.mkdir(parents=True, exist_ok=True)
        self._key = read_or_create_secret(self.key_file, lambda: secrets.token_hex(32)).encode()
        document = json.loads(state_file.read_text()) if state_file.exists() else {}
        if isinstance(document, dict) and document.get("format") == STATE_FORMAT:
            self._stored: dict[str, str] = dict(document.get("fingerprints") or {})
            self._legacy: dict[str, str] = {}
        else:
            # A version-1 file: its unkeyed hashes are recognised once, then replaced by keyed ones.
            self._stored = {}
            self._legacy = {k: v for k, v in (document or {}).items() if isinstance(v, str)}

    def of(self, values: dict[str, Any]) -> str:
        """The keyed fingerprint of ``values``."""
        return FINGERPRINT_PREFIX + hmac.new(self._key, _canonical(values), hashlib.sha256).hexdigest()

    def last_written(self, key: str, values: dict[str, Any]) -> bool:
        """Whether ``values`` are what the loader wrote last time for ``key``."""
        if key in self._stored:
            return hmac.compare_digest(self._stored[key], self.of(values))
        if key in self._legacy:
            return hmac.compare_digest(self._legacy[key], hashlib.sha256(_canonical(values)).hexdigest())
        return False

    def remember(self, key: str, values: dict[str, Any]) -> None:
        """Record that the loader wrote ``values`` for ``key``."""
        self._stored[key] = self.of(values)

    def save(self) -> None:
        """Write the state file (keyed fingerprints only: the legacy unkeyed ones are dropped)."""
        document = {"format": STATE_FORMAT, "fingerprints": self._stored}
        write_secret(self.state_file, json.dumps(document, indent=2, sort_keys=True))


def _connection_values(conn: Any) -> dict[str, Any]:
    extra = conn.extra
    if extra:
        with contextlib.suppress(ValueError):  # a non-JSON extra is compared as it is
            extra = json.dumps(json.loads(extra), sort_keys=True)
    return {
        "conn_type": conn.conn_type,
        "host": conn.host or None,
        "schema": conn.schema or None,
        "login": conn.login or None,
        "password": conn.password or None,
        "port": conn.port or None,
        "extra": extra or None,
    }


def apply_settings(settings: Settings, state_file: Path) -> ApplyReport:
    """Write ``settings`` to Airflow's metadata database by the rules of this module's docstring.

    :param settings: what the file asks for.
    :param state_file: where the keyed fingerprints of what this loader last wrote are kept (see
        :class:`Fingerprints`), so an operator's later change can be told apart from the loader's own.
    """
    from airflow.models import Connection, Pool, Variable
    from airflow.utils.session import create_session

    fingerprints = Fingerprints(state_file)
    report = ApplyReport()

    def reconcile(key: str, current: dict[str, Any] | None, wanted: dict[str, Any], write: Any) -> None:
        if current is None:
            write()
            report.created.append(key)
        elif _canonical(current) == _canonical(wanted):
            report.unchanged.append(key)
        elif fingerprints.last_written(key, current):
            write()
            report.updated.append(key)
        else:
            report.kept_operator_change.append(key)
            return
        fingerprints.remember(key, wanted)

    with create_session() as session:
        for setting in settings.connections:
            key = f"connection:{setting.conn_id}"
            if os.environ.get(f"AIRFLOW_CONN_{setting.conn_id.upper()}"):
                report.skipped_env.append(setting.conn_id)
                continue
            existing = session.query(Connection).filter(Connection.conn_id == setting.conn_id).one_or_none()
            wanted = {
                "conn_type": setting.conn_type,
                "host": setting.host,
                "schema": setting.schema,
                "login": setting.login,
                "password": setting.password,
                "port": setting.port,
                "extra": setting.extra,
            }

            def write_connection(setting: ConnectionSetting = setting, existing: Any = existing) -> None:
                conn = existing or Connection(conn_id=setting.conn_id)
                conn.conn_type = setting.conn_type
                conn.host = setting.host
                conn.schema = setting.schema
                conn.login = setting.login
                conn.set_password(setting.password)
                conn.port = setting.port
                conn.set_extra(setting.extra)
                if setting.description:
                    conn.description = setting.description
                session.add(conn)

            reconcile(key, _connection_values(existing) if existing else None, wanted, write_connection)

        for pool in settings.pools:
            key = f"pool:{pool.name}"
            existing_pool = session.query(Pool).filter(Pool.pool == pool.name).one_or_none()
            current = {"slots": existing_pool.slots} if existing_pool else None

            def write_pool(pool: PoolSetting = pool) -> None:
                Pool.create_or_update_pool(
                    name=pool.name,
                    slots=pool.slots,
                    description=pool.description,
                    include_deferred=False,
                    session=session,
                )

            reconcile(key, current, {"slots": pool.slots}, write_pool)

        for variable in settings.variables:
            key = f"variable:{variable.key}"
            existing_var = session.query(Variable).filter(Variable.key == variable.key).one_or_none()
            current_var = {"value": existing_var.val} if existing_var else None

            def write_variable(variable: VariableSetting = variable, existing: Any = existing_var) -> None:
                var = existing or Variable(key=variable.key)
                var.set_val(variable.value)
                if variable.description:
                    var.description = variable.description
                session.add(var)

            reconcile(key, current_var, {"value": variable.value}, write_variable)

    fingerprints.save()
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.symphonics_devstack.airflow_settings", description=__doc__)
    parser.add_argument("--file", type=Path, default=Path("airflow_settings.yaml"))
    parser.add_argument(
        "--state",
        type=Path,
        default=None,
        help="fingerprints of what was last applied (default: $AIRFLOW_HOME/airflow_settings.applied.json)",
    )
    args = parser.parse_args(argv)
    state = args.state or Path(os.environ.get("AIRFLOW_HOME", ".")) / "airflow_settings.applied.json"
    try:
        settings = parse_settings(args.file.read_text(), source=str(args.file))
    except (OSError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    report = apply_settings(settings, state)
    print(f"airflow settings from {args.file}: {report.summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
