"""A throwaway PostgreSQL cluster for the test session (pytest plugin, loaded by conftest).

`initdb` and `pg_ctl` (PostgreSQL 15 on the development and CI machines) build a cluster in a
temporary folder, run as the `postgres` user when the tests run as root, listening on a free
localhost port and on a unix socket in that folder. Tests build their databases as the
superuser (over the socket) and point chainlint at them as `chainlint_reader`, a role that can
only read (`pg_read_all_data`): a write chainlint attempted would fail the test.

Without the binaries the tests that need the server skip, saying why; with
CHAINLINT_REQUIRE_POSTGRES=1 (set by .ci/run) that skip is a failure.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

READER = "chainlint_reader"
READER_PASSWORD = "rd-S3cr3t!pw"
_counter = itertools.count(1)


@dataclass(frozen=True)
class PostgresServer:
    folder: Path
    port: int

    @property
    def socket_dir(self) -> str:
        return str(self.folder / "socket")

    def admin_url(self, database: str = "postgres") -> str:
        """The superuser over the unix socket (trust): builds and damages databases."""
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={self.port}"

    def reader_url(self, database: str, password: str = READER_PASSWORD) -> str:
        """The read-only role over TCP with a password: what chainlint connects as."""
        quoted = password.replace("!", "%21")
        return f"postgresql://{READER}:{quoted}@127.0.0.1:{self.port}/{database}"

    def create_database(self) -> str:
        """A fresh, empty database; returns its name."""
        name = f"t{os.getpid()}_{next(_counter)}"
        self.sql("postgres", f'CREATE DATABASE "{name}"', autocommit=True)
        return name

    def sql(self, database: str, *statements: str, autocommit: bool = False) -> None:
        """Run statements as the superuser (test setup only)."""
        import psycopg

        with psycopg.connect(
            host=self.socket_dir,
            port=self.port,
            user="postgres",
            dbname=database,
            autocommit=autocommit,
        ) as connection:
            for statement in statements:
                connection.execute(statement.encode())


def _binaries() -> Path | None:
    initdb = shutil.which("initdb")
    if initdb is not None:
        return Path(initdb).parent
    try:
        bindir = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return Path(bindir) if (Path(bindir) / "initdb").exists() else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_postgres(command: list[str]) -> list[str]:
    """Run as the `postgres` user when we are root (initdb refuses to run as root)."""
    if os.geteuid() == 0:
        runuser = shutil.which("runuser") or next(
            (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(p)), "runuser"
        )
        return [runuser, "-u", "postgres", "--", *command]
    return command


def _unavailable(reason: str) -> None:
    if os.environ.get("CHAINLINT_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"CHAINLINT_REQUIRE_POSTGRES=1 but {reason}")
    pytest.skip(f"no PostgreSQL server for this test: {reason}")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bindir = _binaries()
    if bindir is None:
        _unavailable("initdb/pg_ctl not found (install PostgreSQL 15 or put its bin/ on PATH)")
    assert bindir is not None
    folder = Path(tempfile.mkdtemp(prefix="clpg-"))
    data = folder / "data"
    (folder / "socket").mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
        shutil.chown(folder / "socket", "postgres", "postgres")
    port = free_port()
    started = False
    try:
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "--no-sync",
                    "-E",
                    "UTF8",
                ]
            ),
            check=True,
            capture_output=True,
            cwd=folder,  # the postgres user may not enter the test's working directory
        )
        options = f"-p {port} -k {folder / 'socket'} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run(
            _as_postgres(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(folder / "server.log"),
                    "-o",
                    options,
                    "-w",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            cwd=folder,
        )
        started = True
        server = PostgresServer(folder, port)
        server.sql(
            "postgres",
            f"CREATE ROLE {READER} LOGIN PASSWORD '{READER_PASSWORD}'",
            f"GRANT pg_read_all_data TO {READER}",
            autocommit=True,
        )
        yield server
    except (subprocess.CalledProcessError, OSError) as exc:
        log = folder / "server.log"
        stderr = getattr(exc, "stderr", None) or b""
        detail = stderr.decode(errors="replace").strip().splitlines()
        tail = log.read_text(errors="replace")[-400:] if log.exists() else ""
        _unavailable(f"could not start a cluster: {detail[-1] if detail else exc} {tail}")
    finally:
        if started:
            subprocess.run(
                _as_postgres([str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                capture_output=True,
                cwd=folder,
            )
        shutil.rmtree(folder, ignore_errors=True)
