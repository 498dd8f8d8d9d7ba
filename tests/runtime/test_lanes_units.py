"""The lanes of a consumer without a broker: which message goes where, the bound on messages in
flight, what a revoke and a stop drop and wait for, and a lane's failure (no servers)."""

from __future__ import annotations

import threading
import time
import zlib
from typing import TYPE_CHECKING

import pytest

from payctl.embedded import wait_for
from paykit.lanes import LANE_DEPTH, Lanes
from paykit.messages import Received

if TYPE_CHECKING:
    from collections.abc import Iterator

TOPIC = "payment-initiated"


def message(key: str | None, offset: int, partition: int = 0) -> Received:
    return Received(TOPIC, partition, offset, key.encode() if key else None, b"", [])


def keys_on_separate_lanes(count: int, lanes: int) -> list[str]:
    """Payment ids whose messages go to different lanes (the lane is crc32(key) % lanes)."""
    keys: dict[int, str] = {}
    n = 0
    while len(keys) < count:
        keys.setdefault(zlib.crc32(f"pay_{n}".encode()) % lanes, f"pay_{n}")
        n += 1
    return list(keys.values())


class Work:
    """Records what the lanes hand it; a message whose offset is in `held` waits for release."""

    def __init__(self, held: set[int] | None = None) -> None:
        self.held = held or set()
        self.release = threading.Event()
        self.started: list[Received] = []
        self.finished: list[Received] = []
        self.running = 0
        self.most_at_once = 0
        self._lock = threading.Lock()

    def __call__(self, msg: Received) -> bool:
        with self._lock:
            self.started.append(msg)
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
        if msg.offset in self.held:
            assert self.release.wait(10)
        else:
            time.sleep(0.01)  # a handler's work: lets lanes overlap
        with self._lock:
            self.running -= 1
            self.finished.append(msg)
        return True

    def offsets_started(self) -> list[int]:
        with self._lock:
            return [m.offset for m in self.started]


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    stop = threading.Event()
    yield stop
    stop.set()


def started_lanes(count: int, work: Work, stop: threading.Event) -> Lanes:
    lanes = Lanes(count, work, stop)
    lanes.start()
    return lanes


def test_a_payments_messages_are_handled_one_at_a_time_in_offset_order(
    stop: threading.Event,
) -> None:
    work = Work()
    lanes = started_lanes(8, work, stop)
    for offset in range(20):
        lanes.submit(message("pay_1", offset))
    wait_for(lambda: len(work.finished) == 20, 10, "all handled")
    assert [m.offset for m in work.finished] == list(range(20))
    assert work.most_at_once == 1
    assert lanes.to_commit() == {(TOPIC, 0): 20}


def test_different_payments_are_handled_at_once(stop: threading.Event) -> None:
    work = Work()
    lanes = started_lanes(8, work, stop)
    for offset in range(20):
        lanes.submit(message(f"pay_{offset}", offset))
    wait_for(lambda: len(work.finished) == 20, 10, "all handled")
    assert work.most_at_once > 1
    assert lanes.to_commit() == {(TOPIC, 0): 20}


def test_one_lane_handles_one_message_at_a_time(stop: threading.Event) -> None:
    work = Work()
    lanes = started_lanes(1, work, stop)
    for offset in range(6):
        lanes.submit(message(f"pay_{offset}", offset))
    wait_for(lambda: len(work.finished) == 6, 10, "all handled")
    assert work.most_at_once == 1
    assert [m.offset for m in work.finished] == list(range(6))


def test_messages_without_a_key_keep_their_partitions_order(stop: threading.Event) -> None:
    work = Work()
    lanes = started_lanes(8, work, stop)
    for offset in range(10):
        lanes.submit(message(None, offset, partition=offset % 2))
    wait_for(lambda: len(work.finished) == 10, 10, "all handled")
    for partition in (0, 1):
        mine = [m.offset for m in work.finished if m.partition == partition]
        assert mine == sorted(mine)


def test_the_offset_to_commit_waits_for_an_unfinished_message(stop: threading.Event) -> None:
    work = Work(held={1})
    lanes = started_lanes(8, work, stop)
    for offset, key in enumerate(keys_on_separate_lanes(6, 8)):
        lanes.submit(message(key, offset))
    wait_for(lambda: len(work.finished) == 5, 10, "all but the held one handled")
    assert lanes.to_commit() == {(TOPIC, 0): 1}
    work.release.set()
    wait_for(lambda: lanes.to_commit() == {(TOPIC, 0): 6}, 10, "the offset passes it")


def test_no_more_messages_are_taken_while_the_lanes_are_full(stop: threading.Event) -> None:
    work = Work(held={0})
    lanes = started_lanes(1, work, stop)
    for offset in range(LANE_DEPTH):
        assert lanes.room() == LANE_DEPTH - offset
        lanes.submit(message("pay_1", offset))
    assert lanes.room() == 0
    work.release.set()
    wait_for(lambda: lanes.room() == LANE_DEPTH, 10, "room again")


def test_a_revoke_drops_queued_messages_and_waits_for_the_started_one(
    stop: threading.Event,
) -> None:
    work = Work(held={0})
    lanes = started_lanes(2, work, stop)
    for offset in range(3):
        lanes.submit(message("pay_1", offset))  # one lane: 1 and 2 queue behind 0
    lanes.submit(message("pay_2", 0, partition=1))
    wait_for(lambda: work.offsets_started()[:1] == [0], 10, "the first message started")
    revoked: list[dict[tuple[str, int], int]] = []
    revoking = threading.Thread(target=lambda: revoked.append(lanes.revoke({(TOPIC, 0)})))
    revoking.start()
    revoking.join(0.3)
    assert revoking.is_alive(), "the revoke returned while a message of it was in hand"
    work.release.set()
    revoking.join(10)
    assert revoked == [{(TOPIC, 0): 1}]
    assert [(m.partition, m.offset) for m in work.started] == [(0, 0), (1, 0)]
    assert lanes.to_commit() == {(TOPIC, 1): 1}
    assert lanes.room() == 2 * LANE_DEPTH


def test_a_stop_finishes_the_message_in_hand_and_drops_the_queued_ones(
    stop: threading.Event,
) -> None:
    work = Work(held={0})
    lanes = started_lanes(2, work, stop)
    for offset in range(4):
        lanes.submit(message("pay_1", offset))
    wait_for(lambda: work.offsets_started() == [0], 10, "the first message started")
    closing = threading.Thread(target=lanes.close)
    closing.start()
    wait_for(stop.is_set, 10, "stopping")
    work.release.set()
    closing.join(10)
    assert not closing.is_alive()
    assert work.offsets_started() == [0]
    assert lanes.to_commit() == {(TOPIC, 0): 1}


def test_an_error_escaping_a_lane_stops_all_lanes_and_is_kept_for_the_loop(
    stop: threading.Event,
) -> None:
    def broken(msg: Received) -> bool:
        raise RuntimeError("a bug outside the handlers")

    lanes = Lanes(4, broken, stop)
    lanes.start()
    lanes.submit(message("pay_1", 0))
    wait_for(stop.is_set, 10, "the lanes stopping")
    lanes.close()
    assert isinstance(lanes.failure, RuntimeError)
    assert lanes.to_commit() == {}


def test_a_lane_stuck_in_one_message_is_the_loops_oldest_sign_of_life(
    stop: threading.Event,
) -> None:
    work = Work(held={0})
    lanes = started_lanes(2, work, stop)
    lanes.submit(message("pay_1", 0))
    wait_for(lambda: work.offsets_started() == [0], 10, "the message started")
    polled = time.monotonic()
    lanes.room()  # the loop polls on
    assert lanes.last_progress < polled
    work.release.set()
    wait_for(lambda: lanes.last_progress >= polled, 10, "progress after the message")
