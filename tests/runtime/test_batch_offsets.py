"""The batch runtime's offsets (`paykit.batch_offsets`), without a broker: what is committed
never passes a message a stop left undone, asynchronous commits wait for their interval, and a
refused commit is asked again."""

from __future__ import annotations

from typing import Any

from confluent_kafka import KafkaError, TopicPartition

from paykit.batch_offsets import OffsetCommits
from paykit.messages import Received


class Commits:
    """Stands in for the consumer: records what it was asked to commit."""

    def __init__(self) -> None:
        self.asked: list[tuple[dict[tuple[str, int], int], bool]] = []

    def commit(self, *, offsets: list[TopicPartition], asynchronous: bool) -> Any:
        self.asked.append(({(o.topic, o.partition): o.offset for o in offsets}, asynchronous))


def taken(partition: int, *offsets: int) -> list[Received]:
    return [Received("t", partition, o, None, b"", []) for o in offsets]


def test_a_batch_done_moves_each_partition_past_its_last_message() -> None:
    offsets, consumer = OffsetCommits(), Commits()
    offsets.done([*taken(0, 4, 5, 6), *taken(1, 9)], [])
    offsets.commit(consumer, wait=True)  # type: ignore[arg-type]
    assert consumer.asked == [({("t", 0): 7, ("t", 1): 10}, False)]


def test_a_stop_mid_batch_commits_only_up_to_the_first_message_left_undone() -> None:
    offsets, consumer = OffsetCommits(), Commits()
    offsets.done([*taken(0, 4, 5, 6), *taken(1, 9)], taken(0, 6, 5))
    offsets.commit(consumer, wait=True)  # type: ignore[arg-type]
    assert consumer.asked == [({("t", 0): 5, ("t", 1): 10}, False)]


def test_asynchronous_commits_wait_for_the_interval_and_send_only_what_moved() -> None:
    offsets, consumer = OffsetCommits(), Commits()
    offsets.done([*taken(0, 1), *taken(1, 1)], [])
    offsets.commit(consumer, wait=False)  # type: ignore[arg-type]
    offsets.done(taken(0, 2), [])
    offsets.commit(consumer, wait=False)  # type: ignore[arg-type]  # within the interval
    assert consumer.asked == [({("t", 0): 2, ("t", 1): 2}, True)]


def test_a_refused_asynchronous_commit_is_asked_again() -> None:
    offsets, consumer = OffsetCommits(), Commits()
    offsets.done(taken(0, 1), [])
    offsets.commit(consumer, wait=False)  # type: ignore[arg-type]
    offsets.failed(KafkaError(KafkaError._TIMED_OUT), [TopicPartition("t", 0, 2)])
    offsets.commit(consumer, wait=True, only={("t", 0)})  # type: ignore[arg-type]
    assert [asked for asked, _ in consumer.asked] == [{("t", 0): 2}, {("t", 0): 2}]


def test_revoked_partitions_are_forgotten() -> None:
    offsets, consumer = OffsetCommits(), Commits()
    offsets.done([*taken(0, 1), *taken(1, 1)], [])
    offsets.forget({("t", 0)})
    offsets.commit(consumer, wait=True)  # type: ignore[arg-type]
    assert consumer.asked == [({("t", 1): 2}, False)]
