"""Which offset of each partition may be committed while messages finish out of order.

Guarantee: the offset committed for a partition never passes a message taken from it and not
finished, so a crash, a stop or a rebalance redelivers every such message; finished messages
behind it are redelivered too and the inbox turns them into no-ops.

Not thread-safe: the consumer loop guards it with its own lock.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

Partition = tuple[str, int]


@dataclass
class _Taken:
    # Offsets in the order Kafka delivered them, which is increasing between assign and revoke.
    offsets: deque[int] = field(default_factory=deque)
    finished: set[int] = field(default_factory=set)
    watermark: int | None = None  # the next offset to read: all before it are finished
    committed: int | None = None


class OffsetTracker:
    def __init__(self) -> None:
        self._partitions: dict[Partition, _Taken] = {}

    def take(self, partition: Partition, offset: int) -> None:
        self._partitions.setdefault(partition, _Taken()).offsets.append(offset)

    def finish(self, partition: Partition, offset: int) -> None:
        taken = self._partitions.get(partition)
        if taken is None:  # forgotten: the partition was revoked meanwhile
            return
        taken.finished.add(offset)
        while taken.offsets and taken.offsets[0] in taken.finished:
            done = taken.offsets.popleft()
            taken.finished.discard(done)
            taken.watermark = done + 1

    def to_commit(self, only: Iterable[Partition] | None = None) -> dict[Partition, int]:
        """Watermarks that moved since they were last committed."""
        chosen = self._partitions if only is None else set(only) & self._partitions.keys()
        out: dict[Partition, int] = {}
        for partition in chosen:
            taken = self._partitions[partition]
            if taken.watermark is not None and taken.watermark != taken.committed:
                out[partition] = taken.watermark
        return out

    def committed(self, offsets: dict[Partition, int]) -> None:
        for partition, offset in offsets.items():
            taken = self._partitions.get(partition)
            if taken is not None:
                taken.committed = offset

    def forget(self, partitions: Iterable[Partition]) -> None:
        """The partitions went to another owner, who starts from the committed offset."""
        for partition in partitions:
            self._partitions.pop(partition, None)
