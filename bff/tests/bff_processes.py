"""The BFF's processes for real, for the tests that need them: `python -m bff.projector` on the
real broker, started on a group of its own that sees only the events produced after it and
stopped with SIGTERM as an orchestrator would; `spawn` for `python -m bff` and the like."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from typing import TYPE_CHECKING

import httpx
from bff_support import CODEC
from confluent_kafka import Consumer, Producer, TopicPartition

from bff.projector.entrypoint import CATALOG_NAME
from payctl.embedded import free_port, wait_for
from paykit.kafka import ensure_topics, producer_config
from payment_events.catalog import all_topic_names, topic_for, topics_consumed_by

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from payment_events.events import Event


def start_group_at_the_end(broker: str, group: str, topics: list[str]) -> None:
    """Commits the group's offsets at the high watermarks: the process sees only this test's
    events, not the ones other tests left on the shared topics."""
    consumer = Consumer({"bootstrap.servers": broker, "group.id": group})
    try:
        metadata = consumer.list_topics(timeout=10)
        ends = []
        for topic in topics:
            for partition in metadata.topics[topic].partitions:
                tp = TopicPartition(topic, partition)
                _, high = consumer.get_watermark_offsets(tp, timeout=10)
                ends.append(TopicPartition(topic, partition, high))
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def produce(broker: str, event: Event) -> None:
    producer = Producer(producer_config(broker, "bff-test"))
    producer.produce(topic_for(type(event)).name, key=event.payment_id, value=CODEC.encode(event))
    assert producer.flush(10) == 0


def health(url: str) -> int:
    return httpx.get(f"{url}/healthz", timeout=2).status_code


def spawn(
    module: str, env: dict[str, str], log: Path, *, own_session: bool = False
) -> subprocess.Popen[bytes]:
    """`python -m module` with `env`, its output in `log`; `own_session`: in a process group of
    its own, so a test can kill it and whatever it started at once."""
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", module],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=own_session,
        )


@contextlib.contextmanager
def running_projector(
    database_url: str, broker: str, log: Path, runtime: str = "batch"
) -> Iterator[str]:
    """The running projector on `runtime` (CONSUMER_RUNTIME); yields the base URL of its health
    server."""
    ensure_topics(broker, all_topic_names(), partitions=3)
    group = f"bff-projector-{uuid.uuid4().hex[:8]}"
    start_group_at_the_end(broker, group, topics_consumed_by(CATALOG_NAME))
    health_port = free_port()
    env = os.environ | {
        "BFF_DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": broker,
        "CONSUMER_GROUP": group,
        "HEALTH_PORT": str(health_port),
        "PAYMENTS_ENV": "test",
        "LOG_FORMAT": "json",
        "CONSUMER_RUNTIME": runtime,
    }
    process = spawn("bff.projector", env, log)
    url = f"http://127.0.0.1:{health_port}"
    try:
        wait_for(lambda: health(url) == 200, 60, f"the projector healthy (log: {log})")
        yield url
        assert process.poll() is None, f"the projector exited (log: {log})"
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
