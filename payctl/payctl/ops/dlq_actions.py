"""The `payctl dlq` subcommands that change something: `redrive` (each dead letter back on its
topic once) and `purge` (old dead letters deleted). Each has a dry run, asks before it acts
unless `--yes`, and prints what it did."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from payctl.errors import OpsError
from payctl.ops.command import data_dir_option, json_option, refusing, target_of
from payctl.ops.dead_letter_store import read_dead_letters
from payctl.ops.dlq_options import (
    DEAD_LETTER_ID,
    DEAD_LETTER_TOPIC,
    ID_HELP,
    selection_of,
    selectors,
)
from payctl.ops.output import emit_json, emit_table
from payctl.ops.purge import plan_purge, purge
from payctl.ops.redrive import LEDGER_TOPIC, plan_redrive, read_ledger, redrive
from payctl.ops.when import INSTANT, SINCE, start_of

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import timedelta
    from pathlib import Path

    from payctl.ops.dead_letter_store import DeadLetter
    from payctl.ops.topic_ranges import Position

ACTION_COLUMNS = ("id", "payment_id", "code", "service", "original", "action", "redriven_to")
PURGE_COLUMNS = ("topic", "partition", "first_offset", "delete_before", "records", "not_redriven")


def _confirm(question: str, yes: bool) -> None:
    if not yes and not click.confirm(question, err=True):
        raise click.Abort()


@click.command("redrive")
@click.option("--id", "ids", multiple=True, type=DEAD_LETTER_ID, help=ID_HELP + "; repeatable.")
@selectors
@click.option("--all", "everything", is_flag=True, help="Every dead letter of every topic.")
@click.option("--dry-run", is_flag=True, help="Print what would be re-driven; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@data_dir_option
@json_option
@refusing
def redrive_dead_letters(
    ids: tuple[Position, ...],
    topics: tuple[str, ...],
    payments: tuple[str, ...],
    codes: tuple[str, ...],
    services: tuple[str, ...],
    everything: bool,
    dry_run: bool,
    yes: bool,
    data_dir: Path,
    as_json: bool,
) -> None:
    """Put the selected dead letters back on the topic they came from: same key, value and
    headers (without the dlq.* ones), plus dlq.redriven_from = the dead letter's id. Their
    consumers handle them then (a dead letter is not in their inbox); a group that already
    handled the event skips it.

    Each dead letter is re-driven once: the ledger topic payctl.dlq-redrives records it after
    the broker acknowledged the copy, and later runs skip it and say so. Two dead letters of the
    same original message (two services gave up on it) go back as one copy. Selectors combine
    (all must hold); without one, --all is required.
    """
    selection = selection_of(
        ids=ids, topics=topics, payments=payments, codes=codes, services=services
    )
    if selection.is_everything and not everything:
        raise OpsError(
            "name what to re-drive (--id, --topic, --payment, --code, --service), "
            "or --all for every dead letter"
        )
    if everything and not selection.is_everything:
        raise OpsError("--all re-drives every dead letter: give it alone, or only selectors")
    target = target_of(data_dir)
    admin = target.admin()
    letters = [
        d
        for d in read_dead_letters(target, admin, selection.wanted_topics()).letters
        if selection.matches(d)
    ]
    missing = set(ids) - {d.position for d in letters}
    if missing:
        raise OpsError(f"no dead letter at {', '.join(sorted(map(str, missing)))}")
    plan = plan_redrive(letters, read_ledger(target, admin))
    already = [_action(d, "already re-driven", landed) for d, landed in plan.already]
    pending = [_action(d, "re-drive", None) for r in plan.redrives for d in r.letters]
    if dry_run or not plan.redrives:
        if as_json:
            done_key = "would_redrive" if dry_run else "redriven"
            emit_json({"dry_run": dry_run, done_key: pending, "already_redriven": already})
        else:
            emit_table(pending + already, ACTION_COLUMNS, "no dead letters match")
            counts = (
                f"{len(plan.redrives)} message(s) to re-drive, {len(already)} already re-driven"
            )
            click.echo(counts + ("; dry run, nothing changed" if dry_run else ""))
        return
    if not yes and not as_json:
        emit_table(pending, ACTION_COLUMNS, "")
    _confirm(f"Re-drive {len(plan.redrives)} message(s) onto their original topics?", yes)
    done = redrive(target, admin, plan)
    rows = [_action(d, "re-driven", item.landed) for item in done for d in item.redrive.letters]
    if as_json:
        emit_json({"dry_run": False, "redriven": rows, "already_redriven": already})
        return
    emit_table(rows + already, ACTION_COLUMNS, "")
    click.echo(f"re-drove {len(done)} message(s), recorded in {LEDGER_TOPIC}; "
               f"{len(already)} already re-driven before")  # fmt: skip


def _action(letter: DeadLetter, action: str, landed: Position | None) -> dict[str, Any]:
    row = {k: v for k, v in letter.summary().items() if k in ACTION_COLUMNS}
    return {**row, "action": action, "redriven_to": str(landed) if landed else None}


@click.command("purge")
@click.option("--topic", required=True, type=DEAD_LETTER_TOPIC, help="The topic to purge.")
@click.option(
    "--before",
    type=INSTANT,
    help="Delete what failed before this ISO 8601 instant (with its zone).",
)
@click.option(
    "--older-than", type=SINCE, help="Delete what failed longer ago than SPAN (90m, 12h, 7d)."
)
@click.option("--all", "everything", is_flag=True, help="Delete every dead letter of the topic.")
@click.option("--dry-run", is_flag=True, help="Print what would be deleted; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@data_dir_option
@json_option
@refusing
def purge_dead_letters(
    topic: str,
    before: datetime | None,
    older_than: timedelta | None,
    everything: bool,
    dry_run: bool,
    yes: bool,
    data_dir: Path,
    as_json: bool,
) -> None:
    """Delete a dead-letter topic's old records: --before ISO-TIME, --older-than SPAN or --all.
    Kafka deletes only a prefix of each partition, so each partition is cut before its first
    dead letter that failed at or after the time (nothing newer is deleted; an older one behind
    it stays too), or with --all at its end offset when the command began (dead letters arriving
    meanwhile stay). Columns: first_offset, the
    partition's first offset now; delete_before, the new one; records, how many go; not_redriven,
    dead letters among them that no re-drive put back."""
    if [before is not None, older_than is not None, everything].count(True) != 1:
        raise OpsError("say what to purge: one of --before ISO-TIME, --older-than SPAN, --all")
    before = start_of(older_than, before, datetime.now(UTC))
    target = target_of(data_dir)
    admin = target.admin()
    scan = read_dead_letters(target, admin, [topic])
    cuts = plan_purge(scan.letters, scan.ranges, before, read_ledger(target, admin))
    records = sum(c.records for c in cuts)
    unredriven = sum(c.not_redriven for c in cuts)
    rows = [c.row() for c in cuts]
    if dry_run or not records:
        _emit_purge(rows, as_json, dry_run=dry_run, deleted=0)
        return
    if not yes and not as_json:
        emit_table(rows, PURGE_COLUMNS, "")
    _confirm(f"Delete {records} record(s) from {topic} ({unredriven} never re-driven)?", yes)
    purge(admin, cuts)
    _emit_purge(rows, as_json, dry_run=False, deleted=records)


def _emit_purge(
    rows: Sequence[dict[str, Any]], as_json: bool, *, dry_run: bool, deleted: int
) -> None:
    if as_json:
        emit_json({"dry_run": dry_run, "partitions": rows, "deleted": deleted})
        return
    emit_table(rows, PURGE_COLUMNS, "the topic has no partitions with records")
    would = sum(r["records"] for r in rows)
    click.echo(f"dry run: {would} record(s) would be deleted, nothing changed" if dry_run
               else f"deleted {deleted} record(s)")  # fmt: skip
