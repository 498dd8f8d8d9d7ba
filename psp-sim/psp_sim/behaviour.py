"""How the simulated provider behaves around its rules. Routes consult one `Behaviour` before
every operation, so run-time switches (timeouts, 5xx, slow answers) have one place to live.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from psp_sim.settings import Settings


@dataclass
class Behaviour:
    latency_ms: int
    jitter_ms: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Behaviour:
        return cls(latency_ms=settings.latency_ms, jitter_ms=settings.jitter_ms)

    def latency_seconds(self) -> float:
        jitter = random.uniform(-self.jitter_ms, self.jitter_ms)
        return max(0.0, self.latency_ms + jitter) / 1000

    async def before_operation(self) -> None:
        # asyncio.sleep, not time.sleep: a slow provider must not stall its other callers.
        delay = self.latency_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
