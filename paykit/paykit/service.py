"""Runs a consumer service: the consumer loop (in the main thread: batches, or lanes beside it),
the outbox relay and the retry worker beside it, health and metrics on HTTP; SIGTERM or SIGINT
stop them all cleanly.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from confluent_kafka import Producer
from sqlalchemy.orm import Session, sessionmaker

from paykit.batches import BatchLoop
from paykit.consumer import ConsumerLoop
from paykit.db import libpq_url, make_engine
from paykit.dead_letters import DeadLetters
from paykit.dispatch import Dispatcher, GiveUp, Handler
from paykit.health import Check, HealthServer, WsgiApp, database_check
from paykit.kafka import producer_config
from paykit.logging import configure_logging
from paykit.relay import OutboxRelay
from paykit.retry_worker import RetryWorker
from payment_events.codec import Codec
from payment_events.registry import registry_for

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from sqlalchemy import Engine

    from paykit.settings import ConsumerServiceSettings
    from paykit.states import StateHandlers
    from paykit.unit_of_work import UnitOfWork
    from payment_events.events import Event

log = structlog.get_logger()


@dataclass
class Wiring:
    """What `bootstrap()` builds for one service process."""

    settings: ConsumerServiceSettings
    engine: Engine
    codec: Codec
    session_factory: sessionmaker[Session]
    stop: threading.Event = field(default_factory=threading.Event)


# Connections beside the lanes': the outbox relay, the retry worker (two while it parks a
# message whose commit failed) and the health check.
OTHER_CONNECTIONS = 4


def wire(settings: ConsumerServiceSettings) -> Wiring:
    engine = make_engine(
        settings.database_url,
        pool_size=settings.consumer_concurrency + OTHER_CONNECTIONS,
        max_overflow=OTHER_CONNECTIONS,
    )
    return Wiring(
        settings=settings,
        engine=engine,
        codec=Codec(registry_for(settings.schema_registry_url)),
        session_factory=sessionmaker(engine, expire_on_commit=False),
    )


def consume(
    wiring: Wiring,
    producer: Producer,
    *,
    topics: list[str],
    handlers: Mapping[type[Event], Handler[Any]],
    uow_factory: Callable[[], UnitOfWork],
    give_up: Mapping[type[Event], GiveUp[Any]],
    client_id: str,
    state_handlers: StateHandlers[Any] | None = None,
) -> tuple[ConsumerLoop[Any] | BatchLoop, RetryWorker]:
    """The consumer loop and the retry worker of a service, sharing one dispatcher; tests that
    run a service's loop build it here too. `producer` sends dead letters only: sharing the
    relay's would let one thread's flush swallow the other's delivery reports.

    The loop is the batch runtime when the service has state handlers and the settings do not
    ask for lanes; the per-message handlers (`handlers`) then serve the payments a batch leaves
    to them and the retry schedule."""
    settings = wiring.settings
    dead_letters = DeadLetters(producer, settings.service_name)
    dispatcher: Dispatcher[Any] = Dispatcher(
        codec=wiring.codec,
        handlers=handlers,
        give_up=give_up,
        uow_factory=uow_factory,
        dead_letters=dead_letters,
        policy=settings.retry_policy,
    )
    if state_handlers is not None and settings.consumer_runtime == "batch":
        batch_loop = BatchLoop(
            bootstrap=settings.kafka_bootstrap_servers,
            group_id=settings.group_id,
            client_id=client_id,
            topics=topics,
            codec=wiring.codec,
            database_url=libpq_url(wiring.engine),
            state_handlers=state_handlers,
            dispatcher=dispatcher,
            dead_letters=dead_letters,
            stop=wiring.stop,
            batch_size=settings.consume_batch_size,
            linger=settings.consume_linger_ms / 1000,
        )
        return batch_loop, RetryWorker(dispatcher, wiring.session_factory, wiring.stop)
    loop: ConsumerLoop[Any] = ConsumerLoop(
        bootstrap=settings.kafka_bootstrap_servers,
        group_id=settings.group_id,
        client_id=client_id,
        topics=topics,
        codec=wiring.codec,
        dispatcher=dispatcher,
        dead_letters=dead_letters,
        stop=wiring.stop,
        concurrency=settings.consumer_concurrency,
        batch_size=settings.consume_batch_size,
    )
    return loop, RetryWorker(dispatcher, wiring.session_factory, wiring.stop)


# How long a thread of the service may go without a sign of life before /livez calls it stuck.
# Above its longest deliberate wait: the relay's sweep (<= 30 s) or a flush (30 s), the retry
# worker's sweep (30 s), a lane's backoff between tries (<= 5 s).
LIVENESS_WINDOW_SECONDS = 60.0


def liveness_checks(
    loop: ConsumerLoop[Any] | BatchLoop, relay: OutboxRelay, retry_worker: RetryWorker
) -> dict[str, Check]:
    """What `/livez` asks: is each thread of the service cycling. Never the database or the
    broker: a consumer waiting an outage out is alive (its lanes retry in place, the relay and
    the retry worker back off), and restarting it would only lose its place in the group."""

    def consumer_alive() -> None:
        if not loop.is_alive(LIVENESS_WINDOW_SECONDS):
            raise RuntimeError("consumer loop is not polling")

    def relay_cycling() -> None:
        # A relay thread that ended (a fatal producer error) stops cycling: a restart is the
        # only way to a fresh producer.
        if time.monotonic() - relay.last_cycle >= LIVENESS_WINDOW_SECONDS:
            raise RuntimeError("outbox relay is not cycling")

    def retry_worker_alive() -> None:
        if not retry_worker.is_alive(LIVENESS_WINDOW_SECONDS):
            raise RuntimeError("retry worker is not running")

    return {"consumer": consumer_alive, "relay": relay_cycling, "retry_worker": retry_worker_alive}


def run_consumer_service(
    wiring: Wiring,
    *,
    topics: list[str],
    handlers: Mapping[type[Event], Handler[Any]],
    uow_factory: Callable[[], UnitOfWork],
    give_up: Mapping[type[Event], GiveUp[Any]] | None = None,
    checks: dict[str, Check] | None = None,
    routes: dict[str, WsgiApp] | None = None,
    state_handlers: StateHandlers[Any] | None = None,
) -> None:
    settings = wiring.settings
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    stop = wiring.stop
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    # Names this process in the group's description (kafka-consumer-groups --describe).
    client_id = f"{settings.service_name}@{settings.consumer_instance_id or socket.gethostname()}"
    producer = Producer(producer_config(settings.kafka_bootstrap_servers, client_id))
    dead_letter_producer = Producer(producer_config(settings.kafka_bootstrap_servers, client_id))
    relay = OutboxRelay(
        wiring.engine,
        producer,
        stop,
        batch_size=settings.relay_batch_size,
        sweep_seconds=settings.relay_sweep_seconds,
    )
    loop, retry_worker = consume(
        wiring,
        dead_letter_producer,
        topics=topics,
        handlers=handlers,
        uow_factory=uow_factory,
        give_up=give_up or {},
        client_id=client_id,
        state_handlers=state_handlers,
    )

    def relay_alive() -> None:
        if not relay.is_healthy():
            raise RuntimeError(f"outbox relay is not publishing ({relay.failures} failed cycles)")

    liveness = liveness_checks(loop, relay, retry_worker)
    health = HealthServer(
        settings.health_host,
        settings.health_port,
        {
            "database": database_check(wiring.engine),
            "consumer": liveness["consumer"],
            "relay": relay_alive,
            "retry_worker": liveness["retry_worker"],
            **(checks or {}),
        },
        routes,
        liveness,
    )
    health.start()
    relay_thread = threading.Thread(target=relay.run, name="outbox-relay", daemon=True)
    relay_thread.start()
    retry_thread = threading.Thread(target=retry_worker.run, name="retry-worker", daemon=True)
    retry_thread.start()
    log.info("service_started", health_port=health.port)
    try:
        loop.run()
    finally:
        stop.set()
        relay.stop_waiting()
        relay_thread.join(timeout=35)
        retry_thread.join(timeout=35)
        producer.flush(10)
        dead_letter_producer.flush(10)
        health.stop()
        wiring.engine.dispose()
        log.info("service_stopped")
