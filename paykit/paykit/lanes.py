"""The threads that handle a consumer's messages: one queue per lane, a message's lane chosen by
its key (the payment id), so a payment's messages are handled one after another in offset order
while different payments' provider calls overlap.

Guarantees: at most `count * LANE_DEPTH` messages are taken and not finished; a partition's
committable offset never passes a message that did not finish (`paykit.offsets`); once a
partition is revoked, or the stop event is set, none of its queued messages is started.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import structlog

from paykit.offsets import OffsetTracker, Partition

if TYPE_CHECKING:
    from collections.abc import Callable

    from paykit.messages import Received

log = structlog.get_logger()

# Messages taken per lane before the loop stops consuming: bounds memory, and what a crash makes
# the next owner redeliver (all of it is absorbed by the inbox).
LANE_DEPTH = 8
# How long a wait lasts before it looks at the stop event again (nothing notifies a signal).
WAKE_SECONDS = 0.5
# An idle lane needs no wake-up to stop: `close` notifies it. This only bounds a wait that some
# other way of stopping left unnotified; an idle service should cost nothing.
IDLE_LANE_SECONDS = 30.0


def partition_of(msg: Received) -> Partition:
    return (msg.topic, msg.partition)


@dataclass(eq=False)
class _Lane:
    ready: threading.Condition
    queue: deque[Received] = field(default_factory=deque)
    in_hand: Received | None = None
    progress: float = 0.0


class Lanes:
    """`work(msg)` handles one message; it returns False when it stopped before finishing it."""

    def __init__(self, count: int, work: Callable[[Received], bool], stop: threading.Event) -> None:
        if count < 1:
            raise ValueError("a consumer needs at least one lane")
        self._work = work
        self._stop = stop
        # One lock for queues, offsets and counts; a condition per lane so a message wakes only
        # its own lane, and one for the loop, which waits for room or for a revoke to drain.
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._lanes = [_Lane(threading.Condition(self._lock)) for _ in range(count)]
        self._offsets = OffsetTracker()
        self._limit = count * LANE_DEPTH
        self._in_flight = 0
        self._threads: list[threading.Thread] = []
        self._current = threading.local()
        self._loop_progress = 0.0
        self.failure: Exception | None = None

    def start(self) -> None:
        self._loop_progress = time.monotonic()
        for n, lane in enumerate(self._lanes):
            thread = threading.Thread(
                target=self._serve, args=(lane,), name=f"lane-{n}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def room(self) -> int:
        """How many more messages may be taken; waits a while for room when there is none.
        0 once stopping."""
        with self._lock:
            if self._in_flight >= self._limit and not self._stop.is_set():
                self._changed.wait(WAKE_SECONDS)
            self._loop_progress = time.monotonic()
            return 0 if self._stop.is_set() else max(0, self._limit - self._in_flight)

    def submit(self, msg: Received) -> None:
        with self._lock:
            self._offsets.take(partition_of(msg), msg.offset)
            self._in_flight += 1
            lane = self._lanes[self._lane_of(msg)]
            lane.queue.append(msg)
            lane.ready.notify()

    def to_commit(self) -> dict[Partition, int]:
        with self._lock:
            return self._offsets.to_commit()

    def committed(self, offsets: dict[Partition, int]) -> None:
        with self._lock:
            self._offsets.committed(offsets)

    def revoke(self, partitions: set[Partition]) -> dict[Partition, int]:
        """Drops the partitions' queued messages (their next owner redelivers them from the
        committed offset), waits for their started ones to finish, forgets the partitions and
        returns the offsets to commit for them."""
        with self._lock:
            dropped = 0
            for lane in self._lanes:
                kept = deque(m for m in lane.queue if partition_of(m) not in partitions)
                dropped += len(lane.queue) - len(kept)
                lane.queue = kept
            self._in_flight -= dropped
            while any(
                lane.in_hand is not None and partition_of(lane.in_hand) in partitions
                for lane in self._lanes
            ):
                self._changed.wait(WAKE_SECONDS)
                self._loop_progress = time.monotonic()
            offsets = self._offsets.to_commit(only=partitions)
            self._offsets.forget(partitions)
        log.info("partitions_revoked", partitions=sorted(partitions), dropped=dropped)
        return offsets

    def close(self) -> None:
        """Stops: each lane finishes (or abandons, in its in-place retry) the message in hand;
        queued messages are dropped and stay uncommitted."""
        self._stop.set()
        with self._lock:
            for lane in self._lanes:
                self._in_flight -= len(lane.queue)
                lane.queue.clear()
                lane.ready.notify()
        for thread in self._threads:
            thread.join()

    def touch(self) -> None:
        """The calling lane is making progress (it tried its message again)."""
        lane: _Lane | None = getattr(self._current, "lane", None)
        if lane is not None:
            lane.progress = time.monotonic()

    @property
    def last_progress(self) -> float:
        """The oldest sign of life: the loop's last poll, or a busy lane's last step."""
        busy = [lane.progress for lane in self._lanes if lane.in_hand is not None]
        return min([self._loop_progress, *busy])

    def _lane_of(self, msg: Received) -> int:
        # crc32, not hash(): the same key picks the same lane in every process and run.
        if msg.key is not None:
            return zlib.crc32(msg.key) % len(self._lanes)
        return msg.partition % len(self._lanes)

    def _serve(self, lane: _Lane) -> None:
        self._current.lane = lane
        while (msg := self._next(lane)) is not None:
            try:
                done = self._work(msg)
            except Exception as e:
                # Not an error about one message (the dispatcher parks or dead-letters those):
                # the loop stops, the message stays uncommitted, and run() raises it.
                with self._lock:
                    self.failure = self.failure or e
                self._stop.set()
                done = False
            self._finish(lane, msg, done)

    def _next(self, lane: _Lane) -> Received | None:
        with self._lock:
            while not lane.queue and not self._stop.is_set():
                lane.ready.wait(IDLE_LANE_SECONDS)
            if self._stop.is_set():
                return None
            msg = lane.queue.popleft()
            lane.in_hand = msg
            lane.progress = time.monotonic()
            return msg

    def _finish(self, lane: _Lane, msg: Received, done: bool) -> None:
        with self._lock:
            lane.in_hand = None
            lane.progress = time.monotonic()
            self._in_flight -= 1
            if done:
                self._offsets.finish(partition_of(msg), msg.offset)
            self._changed.notify_all()
