"""Serves a few hot routes of a FastAPI app straight from the server, past FastAPI's routing,
dependency solving and request validation, which cost more CPU per call than a lean handler and
its database round trip together. The routes stay declared in the app (paths, path parameters,
OpenAPI document); this matches them as Starlette's router does and calls a handler of the
service's own instead of the declared endpoint. Errors are answered by the app's own exception
handlers, so every error keeps the status and body the document promises.

A handler may decline a request it cannot answer as cheaply (a body it would not accept, say) by
returning None: the request, its body included, then goes to FastAPI as if this were not there,
and FastAPI answers it, errors and all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from starlette.requests import Request
from starlette.routing import BaseRoute, Match, Route

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Iterable, Mapping

    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    # Called with the request and its path parameters.
    DirectHandler = Callable[..., Awaitable["Response | None"]]

log = structlog.get_logger()


class DirectRoutes:
    """ASGI app in front of `app` (the FastAPI app itself, or the rest of its middleware stack):
    requests to those of `routes` whose endpoints are keys of `handlers` go to the handler given
    for them, every other request to `app`. `routes` are the routes of `api` as their router
    declares them (FastAPI keeps an included router's routes in it; include it without a prefix
    of its own); `api`'s exception handlers answer the errors."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        api: Starlette,
        routes: Iterable[BaseRoute],
        handlers: Mapping[Callable[..., Any], DirectHandler],
    ) -> None:
        self.app = app
        self.api = api
        self.routes = [
            (route, handlers[route.endpoint])
            for route in routes
            if isinstance(route, Route) and route.endpoint in handlers
        ]
        if len(self.routes) != len(handlers):
            raise ValueError("a direct handler for an endpoint the app does not route")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route, handler in self.routes:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    await self._serve(handler, scope, child_scope, receive, send)
                    return
        await self.app(scope, receive, send)

    async def _serve(
        self,
        handler: DirectHandler,
        scope: Scope,
        child_scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        # As the router leaves it: the route (request metrics read it), its path parameters.
        scope.update(child_scope)
        scope["app"] = self.api
        request = Request(scope, receive)
        try:
            response = await handler(request, **request.path_params)
        except Exception as e:
            response = await self._error_answer(request, e)
        if response is None:
            await self.app(scope, _replaying(await request.body(), receive), send)
            return
        await response(scope, receive, send)

    async def _error_answer(self, request: Request, e: Exception) -> Response:
        # The handler Starlette's exception middleware would pick: the first class of the
        # exception's MRO that has one. `Exception`'s is the server error handler's (a 500).
        handlers = self.api.exception_handlers
        answer = next((handlers[t] for t in type(e).__mro__ if t in handlers), None)
        if answer is not None and answer is not handlers.get(Exception):
            try:
                response: Response = await answer(request, e)
            except Exception as unanswered:  # a handler that re-raises leaves it to the 500
                e = unanswered
            else:
                return response
        # Logged as Starlette's server error middleware logs what reaches it.
        log.exception("request_failed", path=request.url.path, exc_info=e)
        fallback = handlers.get(Exception)
        if fallback is None:
            raise e
        answered: Response = await fallback(request, e)
        return answered


def _replaying(body: bytes, receive: Receive) -> Receive:
    """`receive` that gives the body already read first, then what the server sends next (a
    disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
