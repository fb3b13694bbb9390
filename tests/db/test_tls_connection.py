"""A TLS connection as a production ``sync_db`` connection is written: ``sslmode=verify-full`` and the CA in the
extra ``sslrootcert`` reach libpq through the project's connection strings (sync and async, the triggerer's watcher
uses the latter), so the right CA connects and a wrong one is refused.

The server is a throwaway cluster of Debian's PostgreSQL 15 (``/usr/lib/postgresql/15/bin``) started with
``ssl=on`` and a certificate signed by a CA made here: the embedded pgserver of the other tests is built without
TLS. Without those binaries the test is skipped, saying so.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.integration

PG_BIN = Path("/usr/lib/postgresql/15/bin")
#: initdb refuses to run as root: as root, the cluster is run by Debian's ``postgres`` user.
SERVER_USER = "postgres"


def _skip_reason() -> str | None:
    if not (PG_BIN / "initdb").exists():
        return f"needs Debian's PostgreSQL 15 server binaries in {PG_BIN} (the embedded pgserver has no TLS)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"run as root without a {SERVER_USER!r} user to run initdb as"
    return None


@dataclass
class Certificates:
    """The CA the server's certificate is signed by, and another CA that did not sign it."""

    right_ca: Path
    wrong_ca: Path
    server_cert: Path
    server_key: Path


def _make_certificates(folder: Path) -> Certificates:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    def ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(common_name))
            .issuer_name(name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256())
        )
        return cert, key

    right, right_key = ca("symphonics test CA")
    wrong, _ = ca("another CA")
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(name("localhost"))
        .issuer_name(right.subject)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(right_key, hashes.SHA256())
    )
    paths = Certificates(folder / "right-ca.pem", folder / "wrong-ca.pem", folder / "server.crt", folder / "server.key")
    paths.right_ca.write_bytes(right.public_bytes(serialization.Encoding.PEM))
    paths.wrong_ca.write_bytes(wrong.public_bytes(serialization.Encoding.PEM))
    paths.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths.server_key.write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class TlsServer:
    port: int
    certificates: Certificates


@pytest.fixture(scope="module")
def tls_server() -> Iterator[TlsServer]:
    """A PostgreSQL 15 cluster on loopback TCP that takes TLS connections only (trust: it is thrown away)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    root = Path(tempfile.mkdtemp(prefix="symphonics-tls-"))
    data = root / "data"
    as_root = os.geteuid() == 0
    user = SERVER_USER if as_root else None
    certificates = _make_certificates(root)
    if as_root:
        account = pwd.getpwnam(SERVER_USER)
        os.chown(root, account.pw_uid, account.pw_gid)
        for path in (certificates.server_cert, certificates.server_key):
            os.chown(path, account.pw_uid, account.pw_gid)
    certificates.server_key.chmod(0o600)
    root.chmod(0o755)  # the client (this process) reads the CA files; the data folder stays 0700
    subprocess.run(
        [str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync"],
        check=True,
        capture_output=True,
        user=user,
        timeout=120,
    )
    # TLS or nothing: a connection that fails verification may not fall back to plain TCP.
    (data / "pg_hba.conf").write_text("hostssl all all 127.0.0.1/32 trust\nhostnossl all all 0.0.0.0/0 reject\n")
    port = _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root} -c ssl=on "
        f"-c ssl_cert_file={certificates.server_cert} -c ssl_key_file={certificates.server_key}"
    )
    subprocess.run(
        [str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"), "-w", "start"],
        check=True,
        capture_output=True,
        user=user,
        timeout=120,
    )
    try:
        yield TlsServer(port, certificates)
    finally:
        subprocess.run(
            [str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False,
            capture_output=True,
            user=user,
            timeout=120,
        )
        shutil.rmtree(root, ignore_errors=True)


def _set_connection(monkeypatch: pytest.MonkeyPatch, server: TlsServer, ca: Path) -> None:
    conn = {
        "conn_type": "postgres",
        "host": "localhost",
        "port": server.port,
        "login": "postgres",
        "schema": "postgres",
        "extra": {
            "sslmode": "verify-full",
            "sslrootcert": str(ca),
            "application_name": "symphonics-tls-test",
            "keepalives": 1,
            "keepalives_idle": 30,
            "target_session_attrs": "read-write",
        },
    }
    monkeypatch.setenv("AIRFLOW_CONN_SYNC_TLS", json.dumps(conn))


def test_verify_full_with_the_right_ca_connects_over_tls(
    tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from include.symphonics.db import adsn, connect, dsn

    _set_connection(monkeypatch, tls_server, tls_server.certificates.right_ca)
    with connect("sync_tls") as conn:
        row = conn.execute(
            "SELECT s.ssl, a.application_name FROM pg_stat_ssl AS s JOIN pg_stat_activity AS a USING (pid) "
            "WHERE s.pid = pg_backend_pid()"
        ).fetchone()
    assert row == (True, "symphonics-tls-test")

    async def connect_async() -> bool:
        async with await psycopg.AsyncConnection.connect(await adsn("sync_tls")) as conn:
            cursor = await conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            found = await cursor.fetchone()
            return bool(found and found[0])

    assert asyncio.run(connect_async())
    assert "sslrootcert=" in dsn("sync_tls")


def test_verify_full_with_a_wrong_ca_is_refused(tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from include.symphonics.db import adsn, connect

    _set_connection(monkeypatch, tls_server, tls_server.certificates.wrong_ca)
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        connect("sync_tls").close()

    async def connect_async() -> None:
        await (await psycopg.AsyncConnection.connect(await adsn("sync_tls"))).close()

    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        asyncio.run(connect_async())
