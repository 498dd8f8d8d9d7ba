"""The admin API: reads and sets the behaviour switches while the server runs. Never affected by
the switches themselves, so a failing provider can always be told to stop failing."""

from __future__ import annotations

import structlog
from fastapi import APIRouter

# FastAPI resolves these annotations at run time.
from psp_sim.api.deps import BehaviourDep  # noqa: TC001
from psp_sim.api.models import ErrorOut
from psp_sim.behaviour import BehaviourState, Switches  # noqa: TC001

log = structlog.get_logger()

router = APIRouter(prefix="/admin", tags=["admin"])

# Every route here is async: the behaviour is only touched on the event loop (see Behaviour).


@router.get("/behaviour")
async def read_behaviour(behaviour: BehaviourDep) -> BehaviourState:
    return behaviour.state()


@router.put("/behaviour", responses={422: {"model": ErrorOut}})
async def set_behaviour(switches: Switches, behaviour: BehaviourDep) -> BehaviourState:
    """Replaces every switch: omitted ones are off (no latency, no failure)."""
    behaviour.set(switches)
    log.info("behaviour_set", **switches.model_dump(mode="json"))
    return behaviour.state()


@router.delete("/behaviour")
async def reset_behaviour(behaviour: BehaviourDep) -> BehaviourState:
    """Back to the switches the server started with (its settings)."""
    behaviour.reset()
    log.info("behaviour_reset", **behaviour.start.model_dump(mode="json"))
    return behaviour.state()
