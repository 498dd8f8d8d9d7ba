"""The load generator and the chaos schedule without a stack: the mix of payments, the client
contract (the same Idempotency-Key and body again until a 202), and kills shared out fairly."""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from payctl.chaos import ChaosMonkey
from payctl.load import BLOCKED_CUSTOMER, DECLINING_METHODS, Kind, LoadGenerator, plan_payments

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def test_plans_mix_every_kind_and_a_seed_replays_them() -> None:
    plans = plan_payments(300, random.Random(42))

    assert plans == plan_payments(300, random.Random(42))
    assert len({p.key for p in plans}) == 300
    kinds = Counter(p.kind for p in plans)
    assert kinds[Kind.APPROVED] > kinds[Kind.DECLINED] > 0
    assert kinds[Kind.REFUSED] > 0
    for plan in plans:
        assert 1 <= len(plan.body["lines"]) <= 5
        assert (plan.body["payment_method"] in DECLINING_METHODS) == (plan.kind is Kind.DECLINED)
        assert (plan.body["customer_id"] == BLOCKED_CUSTOMER) == (plan.kind is Kind.REFUSED)


class FlakyBff:
    """A BFF stand-in: per Idempotency-Key it answers as `script` says, attempt by attempt
    ("drop": closes the connection without an answer; an int: that status), then 202."""

    def __init__(self, script: list[str | int]) -> None:
        self.script = script
        self.requests: dict[str, list[Any]] = defaultdict(list)
        self.payment_ids: dict[str, str] = {}
        self.lock = threading.Lock()

    def handler(self) -> type[BaseHTTPRequestHandler]:
        bff = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                key = self.headers["Idempotency-Key"]
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with bff.lock:
                    bff.requests[key].append(body)
                    attempt = len(bff.requests[key])
                    payment_id = bff.payment_ids.setdefault(key, str(uuid.uuid4()))
                step: str | int = bff.script[attempt - 1] if attempt <= len(bff.script) else 202
                if step == "drop":
                    self.close_connection = True
                    return
                answer = {"payment_id": payment_id} if step == 202 else {"code": "x"}
                data = json.dumps(answer).encode()
                self.send_response(int(step))
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Retry-After", "0")
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def serve() -> Iterator[Callable[[FlakyBff], str]]:
    servers: list[ThreadingHTTPServer] = []

    def start(bff: FlakyBff) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), bff.handler())
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def test_a_payment_is_sent_again_with_the_same_key_and_body_until_it_gets_its_202(
    serve: Callable[[FlakyBff], str],
) -> None:
    bff = FlakyBff(["drop", 503, 500])
    plans = plan_payments(6, random.Random(1))

    result = LoadGenerator(serve(bff), "token", plans, concurrency=6).run()

    assert result.failed == []
    assert sorted(a.key for a in result.accepted) == sorted(p.key for p in plans)
    assert {a.attempts for a in result.accepted} == {4}
    assert {a.payment_id for a in result.accepted} == set(bff.payment_ids.values())
    for plan in plans:
        assert bff.requests[plan.key] == [plan.body] * 4
    assert Counter(a.status for a in result.answers) == {None: 6, 503: 6, 500: 6, 202: 6}


def test_a_refusal_for_good_is_reported_not_retried(serve: Callable[[FlakyBff], str]) -> None:
    bff = FlakyBff([422])
    [plan] = plan_payments(1, random.Random(2))

    result = LoadGenerator(serve(bff), "token", [plan]).run()

    assert result.accepted == []
    assert len(result.failed) == 1
    assert result.failed[0].startswith(f"{plan.key}: 422")
    assert len(bff.requests[plan.key]) == 1


class FakeStack:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def kill_service(self, name: str) -> None:
        self.calls.append(("kill", name))

    def start_service(self, name: str) -> None:
        self.calls.append(("start", name))


def test_the_monkey_kills_each_victim_its_share_and_starts_it_again_every_time() -> None:
    stack = FakeStack()
    monkey = ChaosMonkey(
        stack,  # type: ignore[arg-type]
        random.Random(3),
        kills=7,
        window=0.2,
        victims=("a", "b", "c"),
        down_seconds=(0.0, 0.01),
    )

    monkey.start()
    kills = monkey.join()

    assert sorted(Counter(k.victim for k in kills).values()) == [2, 2, 3]
    for victim in "abc":
        own = [call for call, name in stack.calls if name == victim]
        assert own == ["kill", "start"] * (len(own) // 2)
