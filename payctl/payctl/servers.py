"""The embedded servers of one stack, the broker and PostgreSQL under its data dir: started once
with the stack, stopped with it, and in between stopped and started again by failure drills on
the same port, socket and data, so the services find them where they were."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from payctl.embedded import EmbeddedPostgres
from payctl.errors import StackError
from payctl.kafka_broker import EmbeddedBroker, KafkaInstall
from payctl.process import tail

if TYPE_CHECKING:
    import contextlib

    from payctl.data_dir import DataDir

log = structlog.get_logger()


class EmbeddedServers:
    def __init__(self, layout: DataDir, kafka_port: int, cleanup: contextlib.ExitStack) -> None:
        self._layout = layout
        self._kafka_port = kafka_port
        # Each server's stop is registered here when it first starts, so it outlives no stack.
        self._cleanup = cleanup
        self.broker: EmbeddedBroker | None = None
        self.postgres: EmbeddedPostgres | None = None

    # -- with the stack ----------------------------------------------------------------------

    def start_first_broker(self, install: KafkaInstall) -> str:
        """Starts the broker; returns its bootstrap string."""
        broker = EmbeddedBroker(
            install, self._layout.kafka, self._kafka_port, self._layout.log_file("broker")
        )
        # Registered before start(): a broker that never answered is still stopped.
        self._cleanup.callback(broker.stop)
        self.broker = broker
        self._start(broker)
        return broker.bootstrap

    def start_first_postgres(self) -> str:
        """Starts PostgreSQL; returns the URL of its `postgres` database."""
        postgres = EmbeddedPostgres(self._layout.postgres)
        self._cleanup.callback(postgres.stop)
        postgres.start()
        self.postgres = postgres
        log.info("postgres_started", url=postgres.admin_url)
        return postgres.admin_url

    # -- failure drills ----------------------------------------------------------------------

    def stop_broker(self) -> None:
        self._broker().stop()
        log.info("broker_stopped")

    def start_broker(self) -> None:
        self._start(self._broker())

    def stop_postgres(self) -> None:
        self._postgres().stop()
        log.info("postgres_stopped")

    def start_postgres(self) -> None:
        postgres = self._postgres()
        before = postgres.admin_url
        postgres.start()
        # The socket dir is derived from the data dir, so the URL stays; if it ever moved, every
        # service would keep dialling the old one.
        if postgres.admin_url != before:
            raise StackError(f"PostgreSQL came back at {postgres.admin_url}, not at {before}")
        log.info("postgres_started", url=postgres.admin_url)

    def _start(self, broker: EmbeddedBroker) -> None:
        try:
            broker.start()
        except (RuntimeError, TimeoutError) as e:
            raise StackError(f"the broker did not start: {e}\n{tail(broker.log_file)}") from e
        log.info("broker_started", bootstrap=broker.bootstrap)

    def _broker(self) -> EmbeddedBroker:
        if self.broker is None:
            raise StackError("the broker is not embedded: KAFKA_BOOTSTRAP_SERVERS is set")
        return self.broker

    def _postgres(self) -> EmbeddedPostgres:
        if self.postgres is None:
            raise StackError("PostgreSQL is not embedded: the databases are on another server")
        return self.postgres
