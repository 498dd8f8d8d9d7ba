"""A crash anywhere loses nothing and charges nothing twice: payments of every kind go in while
every consumer, the BFF's projector (which also relays the BFF's outbox) and the BFF API are
SIGKILLed at random moments and started again; then every payment settles and the audit finds
nothing.

The seed is random per run and named in the failure; `CHAOS_SEED=<n>` replays one run's kinds,
amounts and kill moments (not the timing of the processes).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from typing import TYPE_CHECKING

import pytest

from payctl.chaos import VICTIMS, run_chaos

if TYPE_CHECKING:
    from payctl.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

# Sized for a 2-core machine: the submission takes PAYMENTS / RATE seconds and the kills land in
# that window; `payctl soak` runs bigger loads.
PAYMENTS = 500
RATE = 25.0
KILLS_EACH = 2
DRAIN_TIMEOUT = 150.0


def test_payments_survive_sigkills_of_every_service_at_random_moments(own_stack: Stack) -> None:
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(2**32))

    run = run_chaos(
        own_stack,
        payments=PAYMENTS,
        kills=KILLS_EACH * len(VICTIMS),
        seed=seed,
        rate=RATE,
        drain_timeout=DRAIN_TIMEOUT,
    )

    context = f"CHAOS_SEED={seed}, logs in {own_stack.config.layout.logs}\n{run.summary()}"
    assert Counter(k.victim for k in run.kills) == dict.fromkeys(VICTIMS, KILLS_EACH), context
    assert len(run.load.accepted) == PAYMENTS, context
    assert run.violations == [], context
