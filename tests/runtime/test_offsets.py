"""The committable offset of a partition while its messages finish out of order (no servers)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from paykit.offsets import OffsetTracker, Partition

P: Partition = ("payment-initiated", 0)
Q: Partition = ("payment-initiated", 1)


def taken(*offsets: int, partition: Partition = P) -> OffsetTracker:
    tracker = OffsetTracker()
    for offset in offsets:
        tracker.take(partition, offset)
    return tracker


def test_nothing_is_committable_before_the_first_message_finishes() -> None:
    tracker = taken(10, 11, 12)
    tracker.finish(P, 11)
    tracker.finish(P, 12)
    assert tracker.to_commit() == {}


def test_the_watermark_stops_at_the_first_unfinished_offset() -> None:
    tracker = taken(10, 11, 12, 13)
    for offset in (10, 12, 13):
        tracker.finish(P, offset)
    assert tracker.to_commit() == {P: 11}


def test_finishing_the_first_moves_the_watermark_over_every_finished_one() -> None:
    tracker = taken(10, 11, 12, 13)
    for offset in (13, 12, 10):
        tracker.finish(P, offset)
    tracker.finish(P, 11)
    assert tracker.to_commit() == {P: 14}


def test_gaps_between_offsets_do_not_hold_the_watermark() -> None:
    # Transaction markers and compaction leave offsets that are never delivered.
    tracker = taken(3, 7, 8)
    for offset in (3, 7):
        tracker.finish(P, offset)
    assert tracker.to_commit() == {P: 8}


def test_a_committed_watermark_is_not_committed_again_until_it_moves() -> None:
    tracker = taken(0, 1)
    tracker.finish(P, 0)
    tracker.committed(tracker.to_commit())
    assert tracker.to_commit() == {}
    tracker.finish(P, 1)
    assert tracker.to_commit() == {P: 2}


def test_partitions_are_independent() -> None:
    tracker = taken(0, 1)
    tracker.take(Q, 5)
    tracker.finish(Q, 5)
    assert tracker.to_commit() == {Q: 6}
    assert tracker.to_commit(only=[P]) == {}


def test_a_forgotten_partition_commits_nothing_and_ignores_late_finishes() -> None:
    tracker = taken(0, 1)
    tracker.finish(P, 0)
    tracker.forget([P])
    tracker.finish(P, 1)
    assert tracker.to_commit() == {}


@st.composite
def deliveries(draw: st.DrawFn) -> dict[Partition, list[int]]:
    """Per partition, increasing offsets from some start, with gaps."""
    out: dict[Partition, list[int]] = {}
    for partition in draw(st.sets(st.sampled_from([P, Q, ("refund-requested", 2)]), min_size=1)):
        start = draw(st.integers(0, 1000))
        gaps = draw(st.lists(st.integers(1, 3), min_size=1, max_size=30))
        offsets = [start]
        for gap in gaps[1:]:
            offsets.append(offsets[-1] + gap)
        out[partition] = offsets
    return out


@given(data=st.data())
def test_any_completion_order_never_commits_past_an_unfinished_offset(data: st.DataObject) -> None:
    delivered = data.draw(deliveries())
    messages = [(p, o) for p, offsets in delivered.items() for o in offsets]
    order = data.draw(st.permutations(messages))
    never = set(data.draw(st.lists(st.sampled_from(messages), max_size=3)))
    tracker = OffsetTracker()
    for partition, offsets in delivered.items():
        for offset in offsets:
            tracker.take(partition, offset)
    committed: dict[Partition, int] = {}
    finished: set[tuple[Partition, int]] = set()
    for message in order:
        if message in never:
            continue
        tracker.finish(*message)
        finished.add(message)
        if data.draw(st.booleans()):  # the loop commits after some finishes, not all
            offsets = tracker.to_commit()
            tracker.committed(offsets)
            committed.update(offsets)
        for partition, watermark in committed.items():
            assert all((partition, o) in finished for o in delivered[partition] if o < watermark)
    committed.update(tracker.to_commit())
    for partition, offsets in delivered.items():
        first_unfinished = next(
            (i for i, o in enumerate(offsets) if (partition, o) in never), len(offsets)
        )
        # Everything before the first unfinished message is committed; it is redelivered.
        expected = offsets[first_unfinished - 1] + 1 if first_unfinished else None
        assert committed.get(partition) == expected
