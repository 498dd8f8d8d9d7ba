"""Scaling a consumer service down under load, on Apache Kafka: two instances of every consumer,
then one of each leaves for good (SIGTERM for half of the services, SIGKILL for the others). The
survivors own every partition within the session timeout (a stopped member's at once, without
waiting for it), and every payment completes with no second side effect at the provider.
"""

from __future__ import annotations

import random
import signal
import time
from typing import TYPE_CHECKING

import pytest
from confluent_kafka.admin import AdminClient
from e2e_support import wait_progress

from payctl.chaos import audit_stack
from payctl.embedded import wait_for
from payctl.kafka_broker import BROKER_SETTINGS
from payctl.load import LoadGenerator, plan_payments
from payctl.ops.groups import group_named
from payctl.rest import wait_at_rest
from payctl.services import CONSUMER_SERVICES, consumer_instance_id

if TYPE_CHECKING:
    from payctl.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

RATE = 6.0
PAYMENTS = 100
SETTLE_TIMEOUT = 120.0
SESSION_TIMEOUT = int(BROKER_SETTINGS["group.consumer.session.timeout.ms"]) / 1000
HEARTBEAT = int(BROKER_SETTINGS["group.consumer.heartbeat.interval.ms"]) / 1000
HOW_THEY_LEAVE = {
    service: signal.SIGTERM if n % 2 == 0 else signal.SIGKILL
    for n, service in enumerate(CONSUMER_SERVICES)
}


def test_the_survivors_own_every_partition_and_every_payment_completes(
    own_stack: Stack,
) -> None:
    admin = AdminClient({"bootstrap.servers": own_stack.bootstrap})
    load = LoadGenerator(
        own_stack.bff_url,
        own_stack.token,
        plan_payments(PAYMENTS, random.Random()),
        concurrency=4,
        rate=RATE,
    )
    own_stack.start_instances((service, i) for service in CONSUMER_SERVICES for i in (0, 1))
    for service in CONSUMER_SERVICES:
        wait_for(lambda s=service: len(owners(admin, s)) == 2, 30, f"two instances of {service}")
    load.start()
    wait_progress(own_stack, load.result, 5)

    left: dict[str, float] = {}
    for service, sig in HOW_THEY_LEAVE.items():
        own_stack.stop_instance(service, 0, sig)
        left[service] = time.monotonic()
    taken_over: dict[str, float] = {}

    def all_taken_over() -> bool:
        for service in set(CONSUMER_SERVICES) - set(taken_over):
            survivor = {consumer_instance_id(service, 1): partitions_of(admin, service)}
            if owners(admin, service) == survivor:
                taken_over[service] = time.monotonic() - left[service]
        return len(taken_over) == len(CONSUMER_SERVICES)

    wait_for(all_taken_over, SESSION_TIMEOUT + 5 * HEARTBEAT, "the survivors owning everything")
    for service, sig in HOW_THEY_LEAVE.items():
        # A stopped member leaves its group: no wait for its session to time out.
        bound = SESSION_TIMEOUT if sig is signal.SIGTERM else SESSION_TIMEOUT + 2 * HEARTBEAT
        assert taken_over[service] < bound, (service, sig.name, taken_over)

    result = load.wait(timeout=180)
    assert result.failed == []
    wait_at_rest(own_stack, list(result.expected), SETTLE_TIMEOUT)
    report = audit_stack(own_stack, result.expected)
    assert report.passed, f"logs in {own_stack.config.layout.logs}\n{report.summary()}"


def owners(admin: AdminClient, service: str) -> dict[str, set[tuple[str, int]]]:
    """The group's members that own partitions, by instance, with what each owns."""
    [future] = admin.describe_consumer_groups([service], request_timeout=10).values()
    owned: dict[str, set[tuple[str, int]]] = {}
    for member in future.result().members:
        assigned = {(tp.topic, tp.partition) for tp in member.assignment.topic_partitions}
        if assigned:
            owned[member.client_id.partition("@")[2]] = assigned
    return owned


def partitions_of(admin: AdminClient, service: str) -> set[tuple[str, int]]:
    topics = group_named(service).topics
    metadata = admin.list_topics(timeout=10)
    return {(t, p) for t in topics for p in metadata.topics[t].partitions}
