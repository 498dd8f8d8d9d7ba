"""paykit.direct_routes: a hot route of a FastAPI app served by a handler of its own, past
FastAPI's machinery, with FastAPI's answers to errors and to the requests the handler declines."""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, Response
from fastapi.testclient import TestClient
from pydantic import BaseModel

from paykit.direct_routes import DirectRoutes


class Order(BaseModel):
    amount: int


class Refused(Exception):
    pass


def create(calls: list[str]) -> TestClient:
    app = FastAPI()

    @app.post("/orders/{order_id}")
    async def place(order_id: str, order: Order, key: Annotated[str, Header()]) -> Response:
        calls.append("fastapi")
        return JSONResponse({"order_id": order_id, "amount": order.amount, "by": "fastapi"})

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    async def place_directly(request: Request, order_id: str) -> Response | None:
        calls.append("direct")
        if order_id == "boom":
            raise RuntimeError("a bug")
        if order_id == "refused":
            raise Refused
        try:
            order = Order.model_validate_json(await request.body(), strict=True)
        except ValueError:
            return None  # FastAPI answers it
        return JSONResponse({"order_id": order_id, "amount": order.amount, "by": "direct"})

    async def refused(_request: Request, _e: Exception) -> Response:
        return JSONResponse({"code": "refused"}, status_code=409)

    async def internal_error(_request: Request, _e: Exception) -> Response:
        return JSONResponse({"code": "internal_error"}, status_code=500)

    app.add_exception_handler(Refused, refused)
    app.add_exception_handler(Exception, internal_error)
    front = DirectRoutes(app, api=app, routes=app.routes, handlers={place: place_directly})
    return TestClient(front, raise_server_exceptions=False)


def test_a_direct_route_is_answered_by_its_handler_with_its_path_parameters() -> None:
    calls: list[str] = []
    answer = create(calls).post("/orders/o1", json={"amount": 5}, headers={"key": "k"})
    assert answer.json() == {"order_id": "o1", "amount": 5, "by": "direct"}
    assert calls == ["direct"]


def test_a_declined_request_is_answered_by_fastapi_with_its_body_intact() -> None:
    calls: list[str] = []
    client = create(calls)
    invalid = client.post("/orders/o1", json={"amount": "five"}, headers={"key": "k"})
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "amount"]
    # Declined for its body, which FastAPI then reads and accepts (it coerces "5").
    coerced = client.post("/orders/o2", json={"amount": "5"}, headers={"key": "k"})
    assert coerced.json() == {"order_id": "o2", "amount": 5, "by": "fastapi"}
    assert calls == ["direct", "direct", "fastapi"]


def test_errors_are_answered_by_the_apps_exception_handlers() -> None:
    client = create([])
    assert client.post("/orders/refused", json={}).json() == {"code": "refused"}
    failed = client.post("/orders/boom", json={})
    assert (failed.status_code, failed.json()) == (500, {"code": "internal_error"})


def test_other_routes_and_methods_go_to_fastapi() -> None:
    client = create([])
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/orders/o1").status_code == 405


def test_a_handler_for_an_endpoint_the_app_does_not_route_is_refused() -> None:
    app = FastAPI()

    async def nowhere(request: Request) -> Response | None:
        return None

    try:
        DirectRoutes(app, api=app, routes=app.routes, handlers={nowhere: nowhere})
    except ValueError:
        return
    raise AssertionError("accepted a handler for no route")
