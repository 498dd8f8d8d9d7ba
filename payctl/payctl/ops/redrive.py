"""Putting dead letters back on the topic they came from, each one once: the re-drive ledger (a
compacted topic keyed by the dead letter's id, written after its copy was acknowledged), the
plan (what goes, what already went) and the re-drive itself.

A consumer does not claim a dead-lettered event in its inbox, so the copy is handled then; every
other group of the topic sees it as well, and one that already handled that event id skips it.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.cimpl import NewTopic

from payctl.errors import OpsError
from payctl.ops.dead_letter_store import DLQ_HEADER_PREFIX, READER_GROUP
from payctl.ops.topic_ranges import READ_TIMEOUT_SECONDS, Position, end_offsets, read_ranges
from paykit.kafka import producer_config

if TYPE_CHECKING:
    from collections.abc import Sequence

    from confluent_kafka import Message
    from confluent_kafka.admin import AdminClient

    from payctl.ops.dead_letter_store import DeadLetter
    from payctl.ops.target import Target
    from paykit.messages import KafkaHeaders

LEDGER_TOPIC = "payctl.dlq-redrives"
REDRIVEN_FROM = "dlq.redriven_from"
DELIVERY_TIMEOUT_SECONDS = 30.0

Ledger = dict[Position, Position]  # dead letter -> where its re-driven copy landed


def read_ledger(target: Target, admin: AdminClient) -> Ledger:
    """What earlier re-drives put back; empty before the first one (no ledger topic yet)."""
    consumer = target.consumer(READER_GROUP)
    ledger: Ledger = {}
    try:
        ranges = end_offsets(admin, consumer, [LEDGER_TOPIC], READ_TIMEOUT_SECONDS)
        for msg in read_ranges(consumer, ranges, what="re-drive ledger"):
            key, value = msg.key(), msg.value()
            if not key or not value:
                continue
            try:
                entry = json.loads(value)
                ledger[Position.parse(_str(key))] = Position.parse(entry["redriven_to"])
            except (ValueError, KeyError, TypeError, OpsError):
                raise OpsError(
                    f"{LEDGER_TOPIC}:{msg.partition()}:{msg.offset()} is not a re-drive record; "
                    "only payctl dlq redrive writes to that topic"
                ) from None
    finally:
        consumer.close()
    return ledger


def _str(raw: str | bytes) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def ensure_ledger(admin: AdminClient) -> None:
    """Creates the ledger on first use. Compacted, so it keeps one entry per dead letter for
    ever; one partition, so one read gives every entry."""
    if LEDGER_TOPIC in admin.list_topics(timeout=READ_TIMEOUT_SECONDS).topics:
        return
    topic = NewTopic(
        LEDGER_TOPIC, num_partitions=1, replication_factor=-1, config={"cleanup.policy": "compact"}
    )
    [future] = admin.create_topics([topic], operation_timeout=30).values()
    try:
        future.result(30)
    except KafkaException as e:
        if e.args[0].name() != "TOPIC_ALREADY_EXISTS":
            raise OpsError(f"cannot create the re-drive ledger {LEDGER_TOPIC}: {e}") from None


@dataclass(frozen=True)
class Redrive:
    """One original message to put back, and the dead letters of it this re-drive answers (two
    services that gave up on the same message left one each; one copy serves both groups)."""

    letters: tuple[DeadLetter, ...]

    @property
    def first(self) -> DeadLetter:
        return self.letters[0]

    def message(self) -> tuple[str, bytes | None, bytes | None, KafkaHeaders]:
        """Topic, key, value and headers of the copy: the original's, minus what the dead
        letter added, plus where it was re-driven from."""
        letter = self.first
        headers: KafkaHeaders = [
            (k, v) for k, v in letter.headers if not k.startswith(DLQ_HEADER_PREFIX)
        ]
        headers.append((REDRIVEN_FROM, str(letter.position)))
        return letter.original.topic, letter.key, letter.value, headers


@dataclass
class Plan:
    redrives: list[Redrive] = field(default_factory=list)
    already: list[tuple[DeadLetter, Position]] = field(default_factory=list)


def plan_redrive(letters: Sequence[DeadLetter], ledger: Ledger) -> Plan:
    """The selected dead letters not re-driven yet, one copy per original message, in the order
    they were dead-lettered; and those an earlier run re-drove, with where their copy went."""
    plan = Plan()
    by_original: dict[Position, list[DeadLetter]] = {}
    for letter in sorted(letters, key=lambda d: d.position):
        done = ledger.get(letter.position)
        if done is not None:
            plan.already.append((letter, done))
            continue
        original = letter.original
        # Unknown partition or offset: no way to tell two of them apart, so each goes alone.
        same = by_original.setdefault(original if original.offset >= 0 else letter.position, [])
        same.append(letter)
    plan.redrives = [Redrive(tuple(group)) for group in by_original.values()]
    return plan


@dataclass(frozen=True)
class Redriven:
    redrive: Redrive
    landed: Position


def redrive(target: Target, admin: AdminClient, plan: Plan) -> list[Redriven]:
    """Produces each copy, waits for its acknowledgement, then records it in the ledger. A crash
    between the two re-drives it once more on the next run: the consumers' inboxes skip that
    copy's event, so money moves once all the same."""
    if not plan.redrives:
        return []
    ensure_ledger(admin)
    producer = Producer(target.client_config(**producer_config(target.bootstrap, "payctl-dlq")))
    landed = _deliver(producer, [r.message() for r in plan.redrives])
    done = [Redriven(r, where) for r, where in zip(plan.redrives, landed, strict=True) if where]
    entries: list[tuple[str, bytes | None, bytes | None, KafkaHeaders]] = []
    at = datetime.now(UTC).isoformat()
    by = _operator()
    for item in done:
        value = json.dumps({"redriven_to": str(item.landed), "at": at, "by": by}).encode()
        entries += [
            (LEDGER_TOPIC, str(d.position).encode(), value, []) for d in item.redrive.letters
        ]
    recorded = _deliver(producer, entries)
    if not all(recorded):
        raise OpsError(
            f"re-drove {len(done)} message(s) but could not record every one in {LEDGER_TOPIC}: "
            "a second run would re-drive those again (their consumers skip the duplicate)"
        )
    failed = len(plan.redrives) - len(done)
    if failed:
        raise OpsError(
            f"{failed} of {len(plan.redrives)} message(s) were not acknowledged by the broker "
            f"and stay dead letters; the other {len(done)} were re-driven and recorded"
        )
    return done


def _operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _deliver(
    producer: Producer, messages: Sequence[tuple[str, bytes | None, bytes | None, KafkaHeaders]]
) -> list[Position | None]:
    """Produces `messages` in order (the idempotent producer keeps it per partition); where each
    landed, None for one the broker did not acknowledge."""
    landed: list[Position | None] = [None] * len(messages)

    def report(i: int) -> Any:
        def delivered(err: KafkaError | None, msg: Message) -> None:
            topic, partition, offset = msg.topic(), msg.partition(), msg.offset()
            if err is None and topic is not None and partition is not None and offset is not None:
                landed[i] = Position(topic, partition, offset)

        return delivered

    for i, (topic, key, value, headers) in enumerate(messages):
        try:
            producer.produce(topic, key=key, value=value, headers=headers, on_delivery=report(i))
        except (KafkaException, BufferError):
            break  # this one and the rest stay unsent; the caller says so
        producer.poll(0)
    producer.flush(DELIVERY_TIMEOUT_SECONDS)
    return landed
