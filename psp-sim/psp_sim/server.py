"""psp-sim served by uvicorn on a thread of the calling process, for tests and embedding:
`with ThreadedServer(settings) as psp: ... psp.url ...`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Self

import uvicorn

from psp_sim.app import create_app

if TYPE_CHECKING:
    import socket
    from types import TracebackType

    from psp_sim.settings import Settings


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.startup_done = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        # Set on failure too (uvicorn exits from startup), so a waiter never waits for nothing.
        try:
            await super().startup(sockets)
        finally:
            self.startup_done.set()


class ThreadedServer:
    def __init__(self, settings: Settings) -> None:
        self.url = f"http://{settings.host}:{settings.port}"
        config = uvicorn.Config(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_config=None,
            access_log=settings.access_log,
        )
        self._server = _Server(config)
        self._thread = threading.Thread(target=self._server.run, name="psp-sim", daemon=True)

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        if not self._server.startup_done.wait(timeout):
            raise TimeoutError(f"psp-sim did not start on {self.url} within {timeout:.0f}s")
        if not self._server.started:
            raise RuntimeError(f"psp-sim failed to start on {self.url}; see the log")

    def stop(self, timeout: float = 30.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
