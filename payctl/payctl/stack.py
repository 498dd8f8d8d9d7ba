"""The embedded stack: PostgreSQL, the broker, the databases, the topics and every service
process, started in that order, watched while they run, and stopped so that nothing outlives it.
The CLI runs it in the foreground; the test suite runs it for a session.

Failure drills act on a running stack: any process can be stopped or SIGKILLed and started again,
a consumer can run as several instances of its group, and the broker and PostgreSQL can be
stopped and started again on the same port and data dir, their data kept."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import structlog
from confluent_kafka import KafkaException

from payctl.data_dir import DataDir
from payctl.databases import prepare_databases
from payctl.embedded import free_port, free_ports
from payctl.errors import StackError
from payctl.kafka_broker import find_install
from payctl.process import ServiceProcess, wait_healthy
from payctl.servers import EmbeddedServers
from payctl.services import (
    CONSUMER_SERVICES,
    DEFAULT_HEALTH_PORTS,
    HOST,
    SERVICE_BY_NAME,
    SERVICES,
    Service,
    Wiring,
    consumer_instance_id,
    instance_name,
)
from payctl.tokens import bff_auth_secret, development_token, sso_signing_key
from paykit.kafka import ensure_topics
from payment_events.catalog import all_topic_names

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

    from payctl.kafka_broker import KafkaInstall

log = structlog.get_logger()

# A service that ran this long before it died is restarted at once, not after a longer backoff.
STABLE_AFTER_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 30.0


def create_topics(bootstrap: str, partitions: int, replication_factor: int = 1) -> None:
    """Every catalog topic and its dead-letter topic, those missing; existing ones are kept as
    they are. The embedded stack and the one-shot job (`payctl topics`) both run this."""
    try:
        ensure_topics(
            bootstrap, all_topic_names(), partitions, replication_factor=replication_factor
        )
    except (KafkaException, RuntimeError) as e:
        raise StackError(f"cannot create the topics on {bootstrap}: {e}") from e


@dataclass(frozen=True)
class StackConfig:
    data_dir: Path
    partitions: int = 6
    bff_port: int = 8000
    psp_port: int = 8010
    saas_port: int = 8030
    kafka_port: int = 9092
    health_ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_HEALTH_PORTS))
    fresh: bool = False
    # Services not started with the stack (an operator restoring one's database and replaying
    # to it); `start_service` starts one later.
    without: frozenset[str] = frozenset()
    # The environment the overrides are read from and every service inherits.
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    # Two cores shared by a whole stack: a start or restart under load can take a while.
    start_timeout: float = 120.0
    stop_timeout: float = 15.0

    @property
    def layout(self) -> DataDir:
        return DataDir(self.data_dir)

    @property
    def embeds_broker(self) -> bool:
        """Whether the stack runs its own broker: no KAFKA_BOOTSTRAP_SERVERS names another."""
        return not self.env.get("KAFKA_BOOTSTRAP_SERVERS")

    @property
    def api_ports(self) -> dict[str, int]:
        """The services that serve HTTP on a port of their own, not on a health port."""
        return {"bff": self.bff_port, "psp-sim": self.psp_port, "saas-demo": self.saas_port}

    @classmethod
    def on_free_ports(
        cls, data_dir: Path, env: Mapping[str, str], *, fresh: bool = False, partitions: int = 6
    ) -> StackConfig:
        """A stack that runs beside any other on this machine: every port a free one."""
        bff, psp, saas, kafka, *health = free_ports(4 + len(DEFAULT_HEALTH_PORTS))
        return cls(
            data_dir=data_dir,
            partitions=partitions,
            bff_port=bff,
            psp_port=psp,
            saas_port=saas,
            kafka_port=kafka,
            health_ports=dict(zip(DEFAULT_HEALTH_PORTS, health, strict=True)),
            fresh=fresh,
            env=env,
        )


@dataclass
class _Restarts:
    attempts: int = 0
    due_at: float | None = None


class Stack:
    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self._cleanup = contextlib.ExitStack()
        self._wiring: Wiring | None = None
        self._servers = EmbeddedServers(config.layout, config.kafka_port, self._cleanup)
        self._processes: dict[str, ServiceProcess] = {}
        self._held_down: set[str] = set()  # asked to stop: supervise() leaves them down
        self._restarts: dict[str, _Restarts] = {}

    # -- addresses ---------------------------------------------------------------------------

    @property
    def wiring(self) -> Wiring:
        assert self._wiring is not None, "start() first"
        return self._wiring

    @property
    def bootstrap(self) -> str:
        return self.wiring.bootstrap

    @property
    def bff_url(self) -> str:
        return self.wiring.bff_url

    @property
    def psp_url(self) -> str:
        return self.wiring.psp_url

    @property
    def urls(self) -> dict[str, str]:
        return {s.name: self.wiring.url_of(s.name) for s in SERVICES}

    @property
    def postgres_url(self) -> str | None:
        """The embedded server's URL; None when the databases are elsewhere."""
        postgres = self._servers.postgres
        return postgres.admin_url if postgres else None

    def database_url(self, database: str) -> str:
        return self.wiring.database_urls[database]

    @cached_property
    def token(self) -> str:
        """A bearer token this stack's BFF accepts, valid for a day."""
        return development_token(self.config.env, "payctl", 24 * 3600)

    # -- the whole stack ---------------------------------------------------------------------

    def start(self) -> None:
        """Starts everything and returns once every service answers 200 on `/healthz`.

        On failure whatever did start is stopped again before the error propagates.
        """
        began = time.monotonic()
        self._held_down.clear()
        self._restarts.clear()
        self._processes.clear()  # extra instances of an earlier start are not started again
        # Before anything starts: a missing JDK or jar is named, not found in a broker log.
        install = find_install(self.config.env) if self.config.embeds_broker else None
        try:
            self._cleanup.callback(self.config.layout.claim(self.config.fresh).close)
            if self.config.fresh:
                log.info("data_dir_wiped", data_dir=str(self.config.data_dir))
            self._check_ports_free()
            bootstrap = self._start_broker(install)
            database_urls = self._prepare_databases()
            self._create_topics(bootstrap)
            self._wiring = Wiring(
                bootstrap=bootstrap,
                database_urls=database_urls,
                bff_port=self.config.bff_port,
                psp_port=self.config.psp_port,
                health_ports=self.config.health_ports,
                bff_auth_secret=bff_auth_secret(self.config.env),
                sso_signing_key=sso_signing_key(
                    self.config.env, self.config.layout.sso_signing_key
                ),
                saas_port=self.config.saas_port,
                bff_metrics_dir=str(self.config.layout.bff_metrics),
            )
            self._cleanup.callback(self._stop_services)
            for service in SERVICES:
                self._processes[service.name] = self._process_for(service)
                if service.name in self.config.without:
                    self._held_down.add(service.name)
                else:
                    self._processes[service.name].spawn()
            started = [p for name, p in self._processes.items() if name not in self._held_down]
            wait_healthy(started, self.config.start_timeout)
        except BaseException:
            self.stop()
            raise
        log.info("stack_started", seconds=round(time.monotonic() - began, 2))

    def stop(self) -> None:
        """Services first (SIGTERM, SIGKILL after the stop timeout), then the broker, then
        PostgreSQL. Safe to call twice, and after a failed start."""
        self._cleanup.close()

    def supervise(self) -> None:
        """Restarts a service that died without being asked to, with a backoff that grows while
        it keeps dying. Call it regularly; it never blocks."""
        now = time.monotonic()
        for name, process in self._processes.items():
            if name in self._held_down or process.running():
                continue
            restarts = self._restarts.setdefault(name, _Restarts())
            if restarts.due_at is None:
                stable = now - process.started_at >= STABLE_AFTER_SECONDS
                restarts.attempts = 0 if stable else restarts.attempts + 1
                backoff = min(MAX_BACKOFF_SECONDS, 2.0**restarts.attempts)
                restarts.due_at = now + backoff
                log.warning(
                    "service_exited",
                    service=name,
                    returncode=process.returncode,
                    restart_in_seconds=backoff,
                    log_file=str(process.log_path),
                )
            elif now >= restarts.due_at:
                restarts.due_at = None
                process.spawn()
                log.info("service_restarted", service=name, pid=process.pid)

    # -- one process -------------------------------------------------------------------------

    def start_service(self, name: str) -> None:
        """Starts a stopped process and waits until it is healthy."""
        self.start_services([name])

    def start_services(self, names: Iterable[str]) -> None:
        """Starts stopped processes all at once and waits until every one is healthy: the
        slowest start sets the time, not the sum of them."""
        processes = [self._processes[name] for name in names]
        for process in processes:
            self._held_down.discard(process.name)
            self._restarts.pop(process.name, None)
            if not process.running():
                process.spawn()
        wait_healthy(processes, self.config.start_timeout)

    def stop_service(
        self, name: str, sig: signal.Signals = signal.SIGTERM, timeout: float | None = None
    ) -> None:
        """Stops a service and keeps it down until `start_service`."""
        self._held_down.add(name)
        self._processes[name].stop(sig, self.config.stop_timeout if timeout is None else timeout)

    def kill_service(self, name: str) -> None:
        """SIGKILL: the service gets no chance to finish what it was doing."""
        self.stop_service(name, signal.SIGKILL)

    def is_running(self, name: str) -> bool:
        return self._processes[name].running()

    def pid(self, name: str) -> int | None:
        """The process id of a running process, None when it is not running."""
        process = self._processes[name]
        return process.pid if process.running() else None

    @property
    def broker_pid(self) -> int | None:
        """The embedded broker's process id; None when it is not running or not embedded."""
        broker = self._servers.broker
        process = broker.process if broker else None
        return process.pid if process and process.poll() is None else None

    @property
    def postgres_pid(self) -> int | None:
        """The embedded PostgreSQL's postmaster; None when it is not running or not embedded."""
        postgres = self._servers.postgres
        return postgres.pid if postgres else None

    def health_url(self, name: str) -> str:
        return self._processes[name].health_url

    @property
    def process_names(self) -> list[str]:
        """Every process of the stack, extra consumer instances included."""
        return list(self._processes)

    # -- more instances of a consumer --------------------------------------------------------

    def start_instance(self, service: str, index: int) -> str:
        """Starts instance `index` of a consumer service (instance 0 is the service itself) in
        the same consumer group, and waits until it is healthy; returns its process name.

        Each instance has its own `CONSUMER_INSTANCE_ID` (`<service>-<index>`), health port and
        log file (`logs/<service>-<index>.log`); its outbox relay and retry worker share the
        service's database with the others (an advisory lock keeps one relay active)."""
        [name] = self.start_instances([(service, index)])
        return name

    def start_instances(self, instances: Iterable[tuple[str, int]]) -> list[str]:
        """`start_instance` for several (service, index) pairs at once."""
        names = [self._instance(service, index) for service, index in instances]
        self.start_services(names)
        return names

    def stop_instance(
        self,
        service: str,
        index: int,
        sig: signal.Signals = signal.SIGTERM,
        timeout: float | None = None,
    ) -> None:
        self.stop_service(instance_name(service, index), sig, timeout)

    def kill_instance(self, service: str, index: int) -> None:
        self.kill_service(instance_name(service, index))

    def _instance(self, service: str, index: int) -> str:
        if service not in CONSUMER_SERVICES:
            raise StackError(f"{service} is not a consumer: {', '.join(CONSUMER_SERVICES)} are")
        name = instance_name(service, index)
        if name not in self._processes:
            self._processes[name] = self._process_for(SERVICE_BY_NAME[service], index)
        return name

    # -- the infrastructure ------------------------------------------------------------------

    def stop_broker(self) -> None:
        """Stops the embedded broker (a controlled shutdown, a few seconds). The services keep
        running and retrying."""
        self._servers.stop_broker()

    def start_broker(self) -> None:
        """Starts the embedded broker again on the same port and data dir and returns once it
        answers; the services reconnect by themselves."""
        self._servers.start_broker()

    def stop_postgres(self) -> None:
        """Stops the embedded PostgreSQL (`pg_ctl stop -m fast`: open connections are cut)."""
        self._servers.stop_postgres()

    def start_postgres(self) -> None:
        """Starts the embedded PostgreSQL again on the same data dir and socket; the services'
        connection pools reconnect by themselves."""
        self._servers.start_postgres()

    # -- steps of start() --------------------------------------------------------------------

    def _start_broker(self, install: KafkaInstall | None) -> str:
        if install is not None:
            return self._servers.start_first_broker(install)
        return self.config.env["KAFKA_BOOTSTRAP_SERVERS"]

    def _prepare_databases(self) -> dict[str, str]:
        """On the servers the environment names, else on the embedded PostgreSQL."""
        return prepare_databases(self.config.env, self._servers.start_first_postgres)

    def _create_topics(self, bootstrap: str) -> None:
        create_topics(bootstrap, self.config.partitions)

    def _process_for(self, service: Service, index: int = 0) -> ServiceProcess:
        env = {k: v for k, v in self.config.env.items() if k != "HEALTH_PORT"}
        env.update(
            {
                "PAYMENTS_ENV": self.config.env.get("PAYMENTS_ENV", "development"),
                "KAFKA_BOOTSTRAP_SERVERS": self.wiring.bootstrap,
                "HEALTH_HOST": HOST,
                # Log lines reach the file as they are written, not when a buffer fills.
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(service.own_environment(self.wiring))
        url = self.wiring.url_of(service.name)
        if index:
            port = free_port(HOST)
            env["HEALTH_PORT"] = str(port)
            env["CONSUMER_INSTANCE_ID"] = consumer_instance_id(service.name, index)
            url = f"http://{HOST}:{port}"
        name = instance_name(service.name, index)
        return ServiceProcess(
            name,
            [sys.executable, "-m", service.module],
            env,
            self.config.layout.log_file(name),
            f"{url}/healthz",
        )

    def _check_ports_free(self) -> None:
        """Up front, so a port in use is named before anything starts, not found in a log."""
        ports = {**self.config.api_ports, **self.config.health_ports}
        if self.config.embeds_broker:
            ports["broker"] = self.config.kafka_port
        for owner, port in ports.items():
            with socket.socket() as s:
                # As the servers themselves bind: a port in TIME_WAIT is free, a listener is not.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind((HOST, port))
                except OSError:
                    raise StackError(f"port {port} for {owner} is in use") from None

    def _stop_services(self) -> None:
        running = [p for p in self._processes.values() if p.running()]
        self._held_down.update(self._processes)
        # All at once: the slowest one sets the time, not the sum of them.
        for process in running:
            process.send(signal.SIGTERM)
        deadline = time.monotonic() + self.config.stop_timeout
        for process in running:
            process.wait_stopped(max(0.0, deadline - time.monotonic()))
