"""The payment provider failing under the real stack: 5xx bursts and answers lost after the
provider acted are retried from the durable retry schedule and settle with exactly one operation
each at the provider; a provider down for longer than the retries last fails the payment with
`provider_unavailable` and a dead letter, and other payments are not held up meanwhile.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from e2e_support import find_event, new_payment, pay, payments_client, wait_status

from payctl.chaos import audit_stack
from psp_sim.admin_client import reset, set_behaviour
from psp_sim.behaviour import Failure

if TYPE_CHECKING:
    from payctl.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]


@pytest.fixture(scope="module")
def own_stack_env() -> dict[str, str]:
    # Short retries and a short client timeout, so minutes of production backoff fit a test:
    # 8 attempts, 0.2 s doubling to 1 s (about 3 to 5 s in all).
    return {
        "RETRY_MAX_ATTEMPTS": "8",
        "RETRY_BASE_SECONDS": "0.2",
        "RETRY_MAX_DELAY_SECONDS": "1",
        "PSP_TIMEOUT_SECONDS": "1",
    }


@pytest.fixture
def stack(own_stack: Stack) -> Stack:
    reset(own_stack.psp_url)
    return own_stack


@pytest.fixture(scope="module")
def accepted() -> dict[str, str]:
    """Every payment the module's audited tests made: payment id -> the status it ends in."""
    return {}


def pay_all(stack: Stack, count: int, accepted: dict[str, str]) -> dict[str, str]:
    with payments_client(stack) as client:
        ids = [pay(client, new_payment(sellers=[700, 300][: 1 + i % 2])) for i in range(count)]
        for payment_id in ids:
            wait_status(client, payment_id, {"CAPTURED"}, timeout=90)
    accepted.update(dict.fromkeys(ids, "CAPTURED"))
    return accepted


def test_a_5xx_burst_is_retried_and_each_payment_is_authorized_and_captured_once(
    stack: Stack, accepted: dict[str, str]
) -> None:
    set_behaviour(stack.psp_url, failure=Failure(kind="error_5xx", count=8))
    expected = pay_all(stack, 10, accepted)
    report = audit_stack(stack, expected)
    assert report.passed, report.summary()


def test_answers_lost_after_the_provider_acted_are_settled_by_asking_not_by_acting_again(
    stack: Stack, accepted: dict[str, str]
) -> None:
    # The provider performs each of the next operations, then withholds its answer past the
    # services' 1 s timeout: authorizations and captures whose outcome the caller cannot know.
    set_behaviour(stack.psp_url, failure=Failure(kind="timeout", count=6, hold_seconds=5))
    expected = pay_all(stack, 6, accepted)
    report = audit_stack(stack, expected)
    assert report.passed, report.summary()  # one authorization per payment, one capture per line


# Runs last: it leaves a dead letter, which the audit above would flag.
def test_a_provider_down_for_longer_than_the_retries_fails_the_payment_with_a_dead_letter(
    stack: Stack,
) -> None:
    set_behaviour(stack.psp_url, failure=Failure(kind="error_5xx", for_seconds=60))
    with payments_client(stack) as client:
        payment_id = pay(client, new_payment())
        seen = wait_status(client, payment_id, {"FAILED"}, timeout=60)
    reset(stack.psp_url)
    assert seen["failure_code"] == "provider_unavailable"
    dead = find_event(stack.bootstrap, "payment-initiated.dlq", payment_id)
    headers = dict(dead.headers())
    assert headers["dlq.attempts"] == b"8"
    assert headers["dlq.service"] == b"billing-consumer"
