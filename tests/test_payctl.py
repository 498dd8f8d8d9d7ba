"""`payctl up` as a user runs it: a real process on free ports and a data dir of its own."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import psutil
import psycopg
import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from payctl.embedded import EmbeddedPostgres, free_ports, wait_for
from payctl.errors import StackError
from payctl.services import DATABASES, DEFAULT_HEALTH_PORTS, SERVICE_NAMES
from payctl.stack import Stack, StackConfig
from paykit.kafka import take_available
from payment_events.catalog import all_topic_names

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.e2e

PAYCTL = str(Path(sys.executable).with_name("payctl"))
# The embedded default is under test: a developer's own servers must not stand in for it.
OVERRIDES = {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL", *(d.env_var for d in DATABASES)}
# payctl waits up to 120 s for each service to be healthy; a start on a loaded machine can use it.
START_TIMEOUT = 240


def consecutive_free_ports(count: int) -> int:
    """The first of `count` free ports in a row, for `--health-ports`."""

    def all_free(first: int) -> bool:
        with contextlib.ExitStack() as held:
            try:
                for port in range(first, first + count):
                    held.enter_context(socket.socket()).bind(("127.0.0.1", port))
            except OSError:
                return False
        return True

    for candidate in free_ports(20):
        if candidate + count < 65536 and all_free(candidate):
            return candidate
    raise AssertionError(f"no {count} free ports in a row")


class PayctlUp:
    """One `payctl up` process; its stdout and stderr go to files the test reads."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        bff, psp, saas, kafka = free_ports(4)
        self.bff_url = f"http://127.0.0.1:{bff}"
        self.psp_url = f"http://127.0.0.1:{psp}"
        self.bootstrap = f"127.0.0.1:{kafka}"
        self.data_dir = data_dir
        run = uuid.uuid4().hex[:8]
        self.stdout = data_dir.parent / f"payctl-{run}.out"
        self.stderr = data_dir.parent / f"payctl-{run}.err"
        argv = [PAYCTL, "up", "--data-dir", str(data_dir), *extra]
        argv += ["--bff-port", str(bff), "--psp-port", str(psp), "--saas-port", str(saas)]
        argv += ["--kafka-port", str(kafka)]
        argv += ["--health-ports", str(consecutive_free_ports(4))]
        env = {k: v for k, v in os.environ.items() if k not in OVERRIDES}
        with self.stdout.open("wb") as out, self.stderr.open("wb") as err:
            self.process = subprocess.Popen(argv, stdout=out, stderr=err, env=env)

    def lines(self) -> list[str]:
        return self.stdout.read_text().splitlines()

    def wait_ready(self) -> None:
        wait_for(
            lambda: "ready" in self.lines() or self.process.poll() is not None,
            START_TIMEOUT,
            "payctl up",
        )
        assert self.process.poll() is None, self.stderr.read_text()[-3000:]

    def processes(self) -> list[psutil.Process]:
        """payctl's children (services, broker) and PostgreSQL, which pg_ctl detached."""
        found = psutil.Process(self.process.pid).children(recursive=True)
        postmaster_pid = int((self.data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(postmaster_pid)
        return [*found, postmaster, *postmaster.children(recursive=True)]

    def stop(self, timeout: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)


@pytest.fixture
def start(tmp_path: Path) -> Iterator[type[PayctlUp]]:
    started: list[PayctlUp] = []

    class Started(PayctlUp):
        def __init__(self, data_dir: Path, *extra: str) -> None:
            super().__init__(data_dir, *extra)
            started.append(self)

    yield Started
    for up in started:  # a failed test must not leave a stack running
        up.stop()


def gone(process: psutil.Process) -> bool:
    try:
        # A zombie is dead: only its exit status waits for a parent to collect it.
        return not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def psp_sim_process(up: PayctlUp) -> psutil.Process:
    [psp] = [p for p in psutil.Process(up.process.pid).children() if "psp_sim" in p.cmdline()]
    return psp


def test_up_prints_the_urls_then_ready_restarts_what_dies_and_stops_all_on_sigterm(
    start: type[PayctlUp], tmp_path: Path
) -> None:
    up = start(tmp_path / "data")
    up.wait_ready()

    lines = up.lines()
    assert lines[-1] == "ready"
    assert lines.count("ready") == 1
    printed = dict(line.split(maxsplit=1) for line in lines[:-1])
    assert printed["bff"] == up.bff_url
    assert printed["psp-sim"] == up.psp_url
    assert printed["kafka"] == up.bootstrap
    for name in SERVICE_NAMES:
        assert httpx.get(f"{printed[name]}/healthz", timeout=5).status_code == 200, name
        assert (up.data_dir / "logs" / f"{name}.log").stat().st_size > 0, name

    died = psp_sim_process(up)
    died.kill()
    wait_for(
        lambda: (
            psp_sim_process(up).pid != died.pid
            and httpx.get(f"{up.psp_url}/healthz").status_code == 200
        ),
        60,
        "psp-sim restarted",
    )
    assert "service_restarted" in up.stderr.read_text()

    children = up.processes()
    assert len(children) >= len(SERVICE_NAMES) + 2  # the services, the broker, PostgreSQL
    assert up.stop() == 0
    wait_for(lambda: all(gone(p) for p in children), 30, "every child of payctl gone")


def authorize(psp_url: str, reference: str) -> None:
    response = httpx.post(
        f"{psp_url}/v1/authorizations",
        json={
            "amount_minor": 1234,
            "currency": "EUR",
            "payment_method": "pm_card_visa",
            "reference": reference,
        },
        headers={"Idempotency-Key": reference},
        timeout=10,
    )
    assert response.status_code in (200, 201), response.text


def authorizations(psp_url: str, reference: str) -> int:
    response = httpx.get(f"{psp_url}/v1/operations", params={"reference": reference}, timeout=10)
    response.raise_for_status()
    return len(response.json()["operations"])


def publish(bootstrap: str, topic: str, value: bytes) -> None:
    producer = Producer({"bootstrap.servers": bootstrap})
    producer.produce(topic, value=value)
    assert producer.flush(10) == 0


def topics(bootstrap: str) -> set[str]:
    return set(AdminClient({"bootstrap.servers": bootstrap}).list_topics(timeout=10).topics)


def read_all(bootstrap: str, topic: str) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": uuid.uuid4().hex,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    try:
        wait_for(
            lambda: (
                values.extend(m.value() for m in take_available(consumer, 10, 0.5) if not m.error())
                or bool(values)
            ),
            30,
            f"a message on {topic}",
            interval=0,
        )
    finally:
        consumer.close()
    return values


def replay_dry_run(up: PayctlUp, service: str) -> subprocess.CompletedProcess[str]:
    """`payctl replay SERVICE --dry-run` against `up`, its database found through --data-dir as
    an operator's would be."""
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDES}
    return subprocess.run(
        [PAYCTL, "replay", service, "--since", "1h", "--dry-run", "--json"]
        + ["--data-dir", str(up.data_dir)],
        env={**env, "KAFKA_BOOTSTRAP_SERVERS": up.bootstrap},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_data_survives_a_restart_without_a_service_and_fresh_wipes_it(
    start: type[PayctlUp], tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    reference = f"pay_{uuid.uuid4().hex}"
    probe_topic = f"payctl-probe-{uuid.uuid4().hex[:8]}"

    first = start(data_dir)
    first.wait_ready()
    authorize(first.psp_url, reference)
    publish(first.bootstrap, probe_topic, b"kept")
    second_on_same_dir = subprocess.run(
        [PAYCTL, "up", "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=60
    )
    assert second_on_same_dir.returncode == 1
    assert "in use" in second_on_same_dir.stderr
    assert first.stop() == 0

    # Started again without a service, as for restoring its database and replaying to it
    # (docs/runbook.md, "After a database restore", on the embedded stack).
    again = start(data_dir, "--without", "capture-consumer")
    again.wait_ready()
    assert authorizations(again.psp_url, reference) == 1
    assert read_all(again.bootstrap, probe_topic) == [b"kept"]
    printed = dict(line.split(maxsplit=1) for line in again.lines()[:-1])
    assert printed["capture-consumer"].endswith("(not started: --without)")
    held = replay_dry_run(again, "capture-consumer")
    assert held.returncode == 0, held.stderr
    running = replay_dry_run(again, "billing-consumer")
    assert running.returncode == 2
    assert "billing-consumer is running" in running.stderr
    assert again.stop() == 0

    fresh = start(data_dir, "--fresh")
    fresh.wait_ready()
    assert authorizations(fresh.psp_url, reference) == 0
    assert probe_topic not in topics(fresh.bootstrap)
    assert set(all_topic_names()) <= topics(fresh.bootstrap)
    assert fresh.stop() == 0


def test_a_service_that_dies_while_starting_is_named_with_its_log(tmp_path: Path) -> None:
    bff, psp, saas, kafka, *health = free_ports(4 + len(DEFAULT_HEALTH_PORTS))
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDES}
    stack = Stack(
        StackConfig(
            data_dir=tmp_path / "data",
            bff_port=bff,
            psp_port=psp,
            saas_port=saas,
            kafka_port=kafka,
            health_ports=dict(zip(DEFAULT_HEALTH_PORTS, health, strict=True)),
            env={**env, "BFF_AUTH_SECRET": "too-short"},
        )
    )

    with pytest.raises(StackError, match="bff exited with code 1 while starting") as refused:
        stack.start()

    assert "bff.log" in str(refused.value)
    assert "string_too_short" in str(refused.value)  # the log's tail says why
    assert not any(stack.is_running(name) for name in SERVICE_NAMES)
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()  # PostgreSQL stopped


def test_the_embedded_postgres_takes_the_connections_of_a_stack_at_full_load(
    tmp_path: Path,
) -> None:
    server = EmbeddedPostgres(tmp_path / "pg")
    server.start()
    try:
        with contextlib.ExitStack() as held:
            connections = [
                held.enter_context(psycopg.connect(server.admin_url)) for _ in range(300)
            ]
            shown = {}
            for setting in ("max_connections", "synchronous_commit"):
                row = connections[-1].execute(f"SHOW {setting}").fetchone()
                assert row is not None
                shown[setting] = row[0]
    finally:
        server.stop()

    assert shown == {"max_connections": "500", "synchronous_commit": "on"}


@pytest.mark.parametrize(
    ("override", "named"),
    [
        ({"JAVA_HOME": "/nonexistent-jdk"}, "needs Java 17 or newer"),
        ({"KAFKA_LIBS_DIR": "/nonexistent-kafka-libs"}, "run `make install`"),
    ],
)
def test_a_missing_jdk_or_kafka_jars_is_named_before_anything_starts(
    tmp_path: Path, override: dict[str, str], named: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDES} | override
    data_dir = tmp_path / "data"

    refused = subprocess.run(
        [PAYCTL, "up", "--data-dir", str(data_dir), "--kafka-port", str(free_ports(1)[0])],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )

    assert refused.returncode == 1
    assert named in refused.stderr
    assert not data_dir.exists()  # nothing started, nothing written


def test_a_sigkilled_payctl_leaves_no_broker_and_no_service_behind(
    start: type[PayctlUp], tmp_path: Path
) -> None:
    up = start(tmp_path / "data")
    up.wait_ready()
    children = psutil.Process(up.process.pid).children(recursive=True)
    broker = [p for p in children if "kafka.Kafka" in p.cmdline()]
    assert len(broker) == 1
    pid_file = up.data_dir / "postgres" / "postmaster.pid"
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))

    up.process.kill()
    up.process.wait()

    try:
        wait_for(lambda: all(gone(p) for p in children), 60, "every child of payctl gone")
    finally:
        for p in children:  # started by this test: none may outlive it, whatever it found
            with contextlib.suppress(psutil.NoSuchProcess):
                p.kill()
        # PostgreSQL detaches from payctl (pg_ctl), so nothing ends it: SIGINT is its fast stop.
        postmaster.send_signal(signal.SIGINT)
        postmaster.wait(60)
