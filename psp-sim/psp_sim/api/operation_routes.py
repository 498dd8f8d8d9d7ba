"""Serves the provider's operation routes (the four POSTs of `routes.provider`) straight from the
server, in front of FastAPI: per call, FastAPI's middleware, routing and dependency machinery cost
more CPU than the operation and its database round trip together. The routes are still the ones
declared in `routes.provider` (their paths, path parameters and OpenAPI documentation): this only
calls their endpoints without that machinery. Every other request goes to FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import Match

from psp_sim.api.errors import database_unavailable, internal_error, rejected
from psp_sim.api.routes import provider
from psp_sim.database import UNAVAILABLE
from psp_sim.errors import Rejection

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.responses import Response
    from starlette.types import Receive, Scope, Send

log = structlog.get_logger()


class OperationRoutes:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.routes = [
            route
            for route in provider.router.routes
            if isinstance(route, APIRoute) and route.endpoint in provider.OPERATION_ENDPOINTS
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            for route in self.routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child_scope)
                    scope["app"] = self.app
                    response = await self._answer(route, Request(scope, receive))
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _answer(self, route: APIRoute, request: Request) -> Response:
        # The answers FastAPI's exception handlers give (api.errors).
        try:
            response: Response = await route.endpoint(request, **request.path_params)
        except Rejection as e:
            return await rejected(request, e)
        except UNAVAILABLE as e:
            return await database_unavailable(request, e)
        except Exception as e:
            # Logged as Starlette's error middleware logs what reaches it.
            log.exception("operation_failed", path=request.url.path)
            return await internal_error(request, e)
        return response
