"""psp-sim's liveness against its readiness: with its database down it is not ready but alive."""

from __future__ import annotations

from fastapi.testclient import TestClient

from payctl.embedded import free_port
from psp_sim.app import create_app
from psp_sim.settings import Settings


def test_psp_sim_without_its_database_is_not_ready_but_alive() -> None:
    # Nothing listens on a port just found free: connections are refused at once.
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/psp"
    with TestClient(create_app(Settings(database_url=url))) as http:
        assert http.get("/healthz").status_code == 503

        alive = http.get("/livez")
        assert alive.status_code == 200
        assert alive.json() == {"status": "ok"}
