"""Rebalances under load, on Apache Kafka: a second instance of every consumer joins its group,
then the first instance leaves (stopped, or SIGKILLed), then comes back. Partitions move between
instances mid-stream; no payment stalls and none gets a second side effect.
"""

from __future__ import annotations

import random
import signal
import time
from typing import TYPE_CHECKING

import pytest
from e2e_support import handled_messages, wait_progress

from payctl.chaos import audit_stack
from payctl.load import LoadGenerator, plan_payments
from payctl.rest import wait_at_rest
from payctl.services import CONSUMER_SERVICES

if TYPE_CHECKING:
    from payctl.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

RATE = 6.0
PAYMENTS = 200  # ~33 s of load: the rebalances below happen while it goes in
DOWN_SECONDS = 3.0
SETTLE_TIMEOUT = 120.0
# Half of the first instances leave with SIGTERM (they close their consumer), half are
# SIGKILLed (they vanish mid-message).
HOW_THEY_LEAVE = {
    service: signal.SIGTERM if n % 2 == 0 else signal.SIGKILL
    for n, service in enumerate(CONSUMER_SERVICES)
}


def test_instances_join_leave_and_come_back_under_load_without_a_stall_or_a_second_effect(
    own_stack: Stack,
) -> None:
    load = LoadGenerator(
        own_stack.bff_url,
        own_stack.token,
        plan_payments(PAYMENTS, random.Random()),
        concurrency=4,
        rate=RATE,
    )
    load.start()
    wait_progress(own_stack, load.result, 5)

    second = own_stack.start_instances((service, 1) for service in CONSUMER_SERVICES)
    wait_progress(own_stack, load.result, 10)
    for service, sig in HOW_THEY_LEAVE.items():
        own_stack.stop_instance(service, 0, sig)
    time.sleep(DOWN_SECONDS)  # the first instances stay away a while: part of the scenario
    own_stack.start_instances((service, 0) for service in CONSUMER_SERVICES)

    result = load.wait(timeout=180)
    assert result.failed == []
    assert len(result.accepted) == PAYMENTS
    wait_at_rest(own_stack, list(result.expected), SETTLE_TIMEOUT)
    report = audit_stack(own_stack, result.expected)
    assert report.passed, f"logs in {own_stack.config.layout.logs}\n{report.summary()}"
    # The second instances did take partitions: the rebalances were real.
    idle = [name for name in second if handled_messages(own_stack.health_url(name)) == 0]
    assert idle == [], "these second instances never handled a message"
