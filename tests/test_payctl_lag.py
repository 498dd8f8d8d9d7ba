"""`payctl lag` against the running stack: a stopped consumer's backlog shows as lag with the age
of its oldest message, and drains to 0 once it runs again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner
from e2e_support import new_payment, pay, payments_client, wait_status
from ops_support import ops_env, payctl, payctl_json

from payctl.cli import main
from payctl.embedded import free_port, wait_for
from payctl.ops.groups import GROUPS

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from payctl.stack import Stack

pytestmark = pytest.mark.e2e


def capture_group(stack: Stack) -> dict[str, Any]:
    [group] = payctl_json(stack, "lag", "--group", "capture-consumer")["groups"]
    return dict(group)


def test_every_group_is_listed_with_its_partitions(stack: Stack) -> None:
    document = payctl_json(stack, "lag")
    assert [g["group"] for g in document["groups"]] == [g.group_id for g in GROUPS]
    for group in document["groups"]:
        assert group["members"] >= 1
        assert group["partitions"]
        for p in group["partitions"]:
            assert p["lag"] == max(0, p["end"] - (p["committed"] or 0)) or p["committed"] is None
    table = payctl(stack, "lag")
    assert table.exit_code == 0, table.output
    assert "oldest_age_s" in table.output
    assert "capture-consumer" in table.output


def test_a_stopped_consumer_shows_lag_and_the_age_of_its_oldest_message(stack: Stack) -> None:
    stack.stop_service("capture-consumer")
    try:
        with payments_client(stack) as client:
            waiting = [pay(client, new_payment()) for _ in range(3)]
            for payment_id in waiting:
                wait_status(client, payment_id, {"ORDER_CONFIRMED"})
        wait_for(lambda: capture_group(stack)["members"] == 0, 30, "capture-consumer gone")
        group = capture_group(stack)
        behind = [p for p in group["partitions"] if p["lag"] > 0]
        assert group["lag"] >= 3
        assert {p["topic"] for p in behind} == {"order-confirmed"}
        for p in behind:
            assert p["oldest_age_s"] is not None
            assert p["oldest_age_s"] >= 0
            assert p["oldest_at"]
        for p in group["partitions"]:
            if p["lag"] == 0:
                assert p["oldest_age_s"] is None
    finally:
        stack.start_service("capture-consumer")
    wait_for(lambda: capture_group(stack)["lag"] == 0, 60, "capture-consumer caught up")
    assert capture_group(stack)["members"] >= 1


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# A background job of a non-interactive shell (`make test &`, nohup, a CI runner) starts with
# SIGINT ignored; Ctrl-C must end the watch however it was started.
@pytest.mark.parametrize(
    "started_with", [None, _ignore_sigint], ids=["from a terminal", "as a background job"]
)
def test_watch_redraws_until_ctrl_c_and_exits_0(
    stack: Stack, tmp_path: Path, started_with: Callable[[], None] | None
) -> None:
    shown = tmp_path / "watch.out"
    with shown.open("w") as out:
        watching = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "payctl",
                "lag",
                "--group",
                "billing-consumer",
                "--watch",
                "0.5",
            ],
            env={**os.environ, **ops_env(stack)},
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=started_with,
        )
        try:
            wait_for(lambda: shown.read_text().count("every 0.5s") >= 2, 60, "two redraws")
            watching.send_signal(signal.SIGINT)
            assert watching.wait(30) == 0, shown.read_text()
        finally:
            if watching.poll() is None:
                watching.kill()
    assert "billing-consumer" in shown.read_text()


def test_an_unknown_group_is_refused_naming_the_groups(stack: Stack) -> None:
    result = payctl(stack, "lag", "--group", "no-such-consumer")
    assert result.exit_code == 2
    assert "no-such-consumer" in result.output
    for group in GROUPS:
        assert group.service in result.output


def test_an_unreachable_broker_is_refused_clearly() -> None:
    nowhere = f"127.0.0.1:{free_port()}"
    result = CliRunner().invoke(main, ["lag"], env={"KAFKA_BOOTSTRAP_SERVERS": nowhere})
    assert result.exit_code == 2
    assert f"cannot reach the broker at {nowhere}" in result.output
