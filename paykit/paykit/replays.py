"""What `payctl replay` re-delivered (`paykit.db.replays`): written by the replay while the
service is stopped, read by the service when it starts. A re-delivered message whose event the
database does not know may still have been acted on before the database was restored from a
backup, so its handler asks the provider before it acts (`UnitOfWork.may_have_acted`)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import func, insert, select

from paykit.db import replays

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    from paykit.offsets import Partition


log = structlog.get_logger()


class ReplayMarks:
    """Read on the first message a service handles, in that message's transaction (so a
    database outage at start is retried like any other), and kept: a replay is made while every
    instance of the service is stopped, so none starts while it is written."""

    def __init__(self, redelivered_below: Mapping[Partition, int] | None = None) -> None:
        self._below = None if redelivered_below is None else dict(redelivered_below)
        self._loading = threading.Lock()  # lanes handle messages at once

    def redelivered(self, session: Session, topic: str, partition: int, offset: int) -> bool:
        return offset < self.below(session).get((topic, partition), 0)

    def below(self, session: Session) -> Mapping[Partition, int]:
        """Per partition, the offset below which messages were re-delivered."""
        if self._below is None:
            with self._loading:
                if self._below is None:
                    self._below = _load(session)
                    if self._below:
                        log.info("replay_marks_loaded", partitions=len(self._below))
        return self._below


def _load(session: Session) -> dict[Partition, int]:
    rows = session.execute(
        select(
            replays.c.topic, replays.c.partition, func.max(replays.c.redelivered_below)
        ).group_by(replays.c.topic, replays.c.partition)
    ).all()
    return {(topic, partition): below for topic, partition, below in rows}


def record_replay(conn: Connection, redelivered_below: Mapping[Partition, int]) -> None:
    """Marks the messages below these offsets as re-delivered; the caller commits."""
    if redelivered_below:
        conn.execute(
            insert(replays),
            [
                {"topic": t, "partition": p, "redelivered_below": o}
                for (t, p), o in redelivered_below.items()
            ],
        )
