"""`/healthz`, `/livez` and `/metrics` for processes that have no web framework of their own, plus
any small read-only routes a service adds (a WSGI app per path prefix).

`/healthz` is readiness: every check, the database's included, so it is 503 while a dependency is
down. `/livez` is liveness: only whether the process itself is stuck (its threads cycling, or
deliberately waiting an outage out), so an orchestrator restarts a wedged process but never one
that is riding out a database outage a restart would not end."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app
from sqlalchemy import text

from paykit.metrics import READY

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIEnvironment

    from sqlalchemy import Engine

Check = Callable[[], None]
WsgiApp = Callable[["WSGIEnvironment", "StartResponse"], Iterable[bytes]]


def database_check(engine: Engine) -> Check:
    def check() -> None:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    return check


def run_checks(checks: dict[str, Check]) -> tuple[bool, dict[str, str]]:
    results: dict[str, str] = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as e:  # a failing check is the answer, not an error of the endpoint
            results[name] = f"{type(e).__name__}: {e}"[:300]
    return all(r == "ok" for r in results.values()), results


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    # A slow route (a balance query) must not hold up a liveness probe.
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        checks: dict[str, Check],
        routes: dict[str, WsgiApp] | None = None,
        liveness: dict[str, Check] | None = None,
    ) -> None:
        self._checks = checks
        # None: the process is alive while this server answers.
        self._liveness = liveness or {}
        self._routes = routes or {}
        self._metrics = make_wsgi_app()
        self._server: WSGIServer = make_server(
            host, port, self._app, server_class=_ThreadingServer, handler_class=_QuietHandler
        )
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _app(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            # Readiness as it is now, for an alert on a process up but not ready.
            READY.set(float(run_checks(self._checks)[0]))
            return self._metrics(environ, start_response)  # type: ignore[no-any-return]
        if path == "/healthz":
            return _answer(self._checks, start_response)
        if path == "/livez":
            return _answer(self._liveness, start_response)
        for prefix, app in self._routes.items():
            if path.startswith(prefix):
                return app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"code":"not_found","message":"try /healthz, /livez or /metrics"}']


def _answer(checks: dict[str, Check], start_response: StartResponse) -> Iterable[bytes]:
    passed, results = run_checks(checks)
    body = json.dumps({"status": "ok" if passed else "unavailable", "checks": results})
    status = "200 OK" if passed else "503 Service Unavailable"
    start_response(status, [("Content-Type", "application/json")])
    return [body.encode()]
