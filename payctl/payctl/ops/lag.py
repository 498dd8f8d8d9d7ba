"""`payctl lag`: how far behind each consumer group is, per partition, and how long its oldest
unhandled message has waited; once, or redrawn every few seconds (`--watch`)."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from payctl.interrupts import interrupted_by_ctrl_c
from payctl.ops.command import data_dir_option, json_option, refusing, target_of
from payctl.ops.groups import GROUPS, group_named
from payctl.ops.lag_read import read_lag
from payctl.ops.output import emit_json, table

if TYPE_CHECKING:
    from pathlib import Path

    from payctl.ops.lag_read import GroupLag

COLUMNS = ("group", "members", "topic", "partition", "committed", "end", "lag", "oldest_age_s")
DEFAULT_WATCH_SECONDS = 2.0


@click.command()
@click.option(
    "--group", "group_name", metavar="NAME", help="Only this consumer group (a service name)."
)
@click.option(
    "--watch",
    type=click.FloatRange(min=0.5),
    is_flag=False,
    flag_value=DEFAULT_WATCH_SECONDS,
    default=None,
    metavar="[SECONDS]",
    help=f"Redraw every SECONDS ({DEFAULT_WATCH_SECONDS:g} when not given) until Ctrl-C.",
)
@json_option
@data_dir_option
@refusing
def lag(group_name: str | None, watch: float | None, as_json: bool, data_dir: Path) -> None:
    """Per consumer group and partition it reads: the committed offset, the end offset (high
    watermark), the lag between them and the age in seconds of the oldest message not yet
    handled (the one at the committed offset; none when the lag is 0), with the group's live
    members. Exits 2 when the broker cannot be reached or the group is unknown."""
    if watch is not None and as_json:
        raise click.UsageError("--watch redraws a table; leave it out with --json")
    groups = [group_named(group_name)] if group_name else list(GROUPS)
    target = target_of(data_dir)
    if as_json:
        emit_json(lag_document(read_lag(target, groups)))
        return
    if watch is None:
        click.echo(lag_table(read_lag(target, groups)))
        return
    try:
        with interrupted_by_ctrl_c():
            while True:
                shown = lag_table(read_lag(target, groups))
                if sys.stdout.isatty():
                    click.clear()
                click.echo(f"{datetime.now(UTC).isoformat(timespec='seconds')}  every {watch:g}s")
                click.echo(shown)
                time.sleep(watch)
    except KeyboardInterrupt:
        return  # Ctrl-C is how a watch ends: not a failure


def lag_rows(measured: list[GroupLag]) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "group": g.group.group_id,
            "members": g.members,
            "topic": p.topic,
            "partition": p.partition,
            "committed": p.committed,
            "end": p.end,
            "lag": p.lag,
            "oldest_at": p.oldest_at,
            "oldest_age_s": p.oldest_age_seconds(now),
        }
        for g in measured
        for p in g.partitions
    ]


def lag_table(measured: list[GroupLag]) -> str:
    total = sum(g.lag for g in measured)
    return f"{table(lag_rows(measured), COLUMNS)}\n\n{total} messages behind in all"


def lag_document(measured: list[GroupLag]) -> dict[str, Any]:
    rows = lag_rows(measured)
    return {
        "groups": [
            {
                "group": g.group.group_id,
                "service": g.group.service,
                "members": g.members,
                "lag": g.lag,
                "partitions": [
                    {k: v for k, v in row.items() if k not in ("group", "members")}
                    for row in rows
                    if row["group"] == g.group.group_id
                ],
            }
            for g in measured
        ],
        "lag": sum(g.lag for g in measured),
    }
