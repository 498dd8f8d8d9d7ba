"""`payctl replay`: re-deliver what one consumer service's group already consumed, from an
offset, an instant or a span back, on all or some of its topics and partitions
(`payctl.ops.replay_plan` says why that is safe)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from payctl.errors import OpsError
from payctl.ops.command import data_dir_option, json_option, refusing, target_of
from payctl.ops.groups import GROUPS, group_named
from payctl.ops.output import emit_json, emit_table
from payctl.ops.replay_plan import ReplayPlan, apply_replay, plan_replay, refuse_while_running
from payctl.ops.when import Instant, Since

if TYPE_CHECKING:
    from pathlib import Path

COLUMNS = ("topic", "partition", "committed", "target", "end", "messages", "payments")
SAFETY = (
    "Every handler claims its event's inbox row with its state change: a re-delivered event "
    "the service's database already holds changes nothing, only what the database is missing "
    "is applied. For re-delivered messages the service asks the payment provider what it did "
    "before asking it to act, so no provider call is sent twice."
)


HELP = """Re-deliver to SERVICE (a consumer service: its consumer group has its name) what it
already consumed, from --offset, --from or --since (exactly one), by moving its group's
committed offsets back. Offsets only ever move back; a partition already before the
target is left as it is.

Refused while any instance of the service runs (the group's live members are named):
stop the service, replay, start it again. After a database restore, restore first and
replay after, from before the backup was taken.

Safe by construction: every handler claims its event's inbox row with its state change, so
a re-delivered event the service's database already holds changes nothing and only what the
database is missing is applied; for re-delivered messages the service asks the payment
provider what it did before asking it to act again.

--dry-run prints, per partition, the committed and target offsets and how many messages
(and distinct payments) would be re-delivered. A real run asks for confirmation unless
--yes. Exit status: 0 done (or nothing to do), 1 not confirmed, 2 refused (nothing changed).

\b
Services: """ + ", ".join(g.service for g in GROUPS)


@click.command(help=HELP)
@click.argument("group", metavar="SERVICE")
@click.option(
    "--topic",
    "topics",
    multiple=True,
    help="A topic the service reads (repeatable). [default: every topic it reads]",
)
@click.option(
    "--partition",
    "partitions",
    type=click.IntRange(min=0),
    multiple=True,
    help="Only this partition of those topics (repeatable). [default: all]",
)
@click.option("--offset", type=click.IntRange(min=0), help="Re-deliver from this offset.")
@click.option(
    "--from", "start", type=Instant(), help="Re-deliver from this instant (ISO 8601 with zone)."
)
@click.option("--since", type=Since(), help="Re-deliver from this long ago: 15m, 2h, 1d.")
@click.option("--dry-run", is_flag=True, help="Print what would be re-delivered; change nothing.")
@click.option("--yes", is_flag=True, help="Do it without asking for confirmation.")
@json_option
@data_dir_option
@refusing
def replay(
    group: str,
    topics: tuple[str, ...],
    partitions: tuple[int, ...],
    offset: int | None,
    start: datetime | None,
    since: timedelta | None,
    dry_run: bool,
    yes: bool,
    as_json: bool,
    data_dir: Path,
) -> None:
    chosen = [o for o in (offset, start, since) if o is not None]
    if len(chosen) != 1:
        raise OpsError("give exactly one of --offset, --from and --since")
    consumer_group = group_named(group)
    target = target_of(data_dir)
    admin = target.admin()
    refuse_while_running(admin, consumer_group)
    if since is not None:
        start = datetime.now(UTC) - since
    plan = plan_replay(
        target,
        admin,
        consumer_group,
        topics=topics,
        partitions=partitions,
        offset=offset,
        start=start,
    )
    if dry_run or not plan.moving:
        _report(plan, as_json, done=False, dry_run=dry_run)
        return
    if not yes:
        _report(plan, as_json=False, done=False, dry_run=True)
        if not click.confirm(
            f"Move {consumer_group.group_id}'s offsets back on {len(plan.moving)} partitions, "
            f"re-delivering {plan.messages} messages of {len(plan.payments)} payments?",
            err=True,
        ):
            click.echo("not confirmed: nothing changed", err=True)
            raise SystemExit(1)
    apply_replay(target, admin, plan)
    _report(plan, as_json, done=True, dry_run=False)


def _report(plan: ReplayPlan, as_json: bool, *, done: bool, dry_run: bool) -> None:
    rows: list[dict[str, Any]] = [
        {
            "topic": p.topic,
            "partition": p.partition,
            "committed": p.committed,
            "target": p.target,
            "end": p.end,
            "messages": p.messages,
            "payments": p.payments,
            "moves": p.moves,
        }
        for p in plan.partitions
    ]
    if as_json:
        emit_json(
            {
                "group": plan.group.group_id,
                "dry_run": dry_run,
                "replayed": done,
                "messages": plan.messages,
                "payments": len(plan.payments),
                "partitions": rows,
                "note": SAFETY,
            }
        )
        return
    emit_table(rows, COLUMNS, empty="no partitions")
    moving = len(plan.moving)
    if not moving:
        click.echo(f"\nnothing to re-deliver: no partition of {plan.group.group_id} goes back")
        return
    verb = "moved back" if done else "would move back"
    click.echo(
        f"\n{plan.group.group_id}: {verb} {moving} partitions, re-delivering {plan.messages} "
        f"messages of {len(plan.payments)} payments."
    )
    if done:
        click.echo(f"Start {plan.group.service} again to handle them.")
    click.echo(SAFETY)
