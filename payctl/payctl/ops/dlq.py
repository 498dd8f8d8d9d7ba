"""`payctl dlq`: the dead letters of every topic: list them, show one, re-drive them onto the
topic they came from (each once), purge old ones."""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

import click

from payctl.errors import OpsError
from payctl.ops.command import data_dir_option, json_option, refusing, target_of
from payctl.ops.dead_letter_store import read_dead_letter, read_dead_letters
from payctl.ops.dlq_actions import purge_dead_letters, redrive_dead_letters
from payctl.ops.dlq_options import DEAD_LETTER_ID, selection_of, selectors
from payctl.ops.output import emit_json, emit_table
from payctl.ops.redrive import read_ledger
from payment_events.codec import Codec, DecodeError, RegistryUnavailable
from payment_events.registry import registry_for

if TYPE_CHECKING:
    from pathlib import Path

    from payctl.ops.dead_letter_store import DeadLetter
    from payctl.ops.redrive import Ledger
    from payctl.ops.topic_ranges import Position

MESSAGE_COLUMNS = (
    "id", "payment_id", "code", "service", "original", "attempts", "failed_at", "redriven_to",
    "message",
)  # fmt: skip
# An error message is cut to this in a table; --json has it whole.
TABLE_MESSAGE_CHARS = 60


def _message_row(letter: DeadLetter, ledger: Ledger, *, cut: bool) -> dict[str, Any]:
    row = letter.summary()
    landed = ledger.get(letter.position)
    row["redriven_to"] = str(landed) if landed else None
    if cut and row["message"] and len(row["message"]) > TABLE_MESSAGE_CHARS:
        row["message"] = row["message"][: TABLE_MESSAGE_CHARS - 1] + "…"
    return row


@click.group()
def dlq() -> None:
    """Dead letters: messages a consumer could never handle, copied to <topic>.dlq with headers
    saying why (dlq.error.code, dlq.service, dlq.original.*), then skipped.

    A dead letter's id is TOPIC:PARTITION:OFFSET on its dead-letter topic, e.g.
    order-failed.dlq:3:17. Every subcommand reads with a consumer that joins no group and commits
    nothing, from the start of each topic to its end offsets when it began. Exit status 2: the
    command refused (bad input, the broker unreachable) and changed nothing.
    """


@dlq.command("list")
@selectors
@click.option("--messages", is_flag=True, help="One row per dead letter (implied by a filter).")
@data_dir_option
@json_option
@refusing
def list_dead_letters(
    topics: tuple[str, ...],
    payments: tuple[str, ...],
    codes: tuple[str, ...],
    services: tuple[str, ...],
    messages: bool,
    data_dir: Path,
    as_json: bool,
) -> None:
    """Per dead-letter topic: how many dead letters, how many were re-driven, the oldest and the
    newest failure. With --messages or any filter, each dead letter: its id, payment, error
    code, service, original topic:partition:offset, attempts, failure time, where a re-drive
    put it (redriven_to) and the error message."""
    selection = selection_of(topics=topics, payments=payments, codes=codes, services=services)
    target = target_of(data_dir)
    admin = target.admin()
    wanted = selection.wanted_topics()
    letters = [d for d in read_dead_letters(target, admin, wanted).letters if selection.matches(d)]
    ledger = read_ledger(target, admin)
    summary = []
    for topic in wanted:
        mine = [d for d in letters if d.position.topic == topic]
        times = [d.failed_at for d in mine if d.failed_at is not None]
        summary.append(
            {
                "topic": topic,
                "count": len(mine),
                "redriven": sum(1 for d in mine if d.position in ledger),
                "oldest": min(times, default=None),
                "newest": max(times, default=None),
            }
        )
    per_message = messages or not selection.is_everything
    if as_json:
        document: dict[str, Any] = {"topics": summary}
        if per_message:
            document["messages"] = [_message_row(d, ledger, cut=False) for d in letters]
        emit_json(document)
        return
    if not per_message:
        emit_table(summary, ("topic", "count", "redriven", "oldest", "newest"), "")
        return
    rows = [_message_row(d, ledger, cut=True) for d in letters]
    emit_table(rows, MESSAGE_COLUMNS, "no dead letters match")


@dlq.command("show")
@click.argument("dead_letter", metavar="ID", type=DEAD_LETTER_ID)
@data_dir_option
@json_option
@refusing
def show(dead_letter: Position, data_dir: Path, as_json: bool) -> None:
    """One dead letter, by ID = TOPIC:PARTITION:OFFSET (e.g. order-failed.dlq:3:17, as `payctl
    dlq list --messages` prints it): its key, every header, and the event it carries decoded
    field by field, or why it does not decode."""
    target = target_of(data_dir)
    admin = target.admin()
    letter = read_dead_letter(target, admin, dead_letter)
    landed = read_ledger(target, admin).get(letter.position)
    event_type, fields, error = _decoded(letter)
    if as_json:
        emit_json(
            {
                **letter.summary(),
                "redriven_to": str(landed) if landed else None,
                "headers": {k: v for k, v in letter.headers},
                "event_type": event_type,
                "event": fields,
                "decode_error": error,
            }
        )
        return
    rows: list[tuple[str, Any]] = [(k, v) for k, v in letter.summary().items()]
    rows.append(("redriven_to", str(landed) if landed else None))
    rows += [(f"header {k}", v) for k, v in letter.headers]
    if fields is not None:
        rows += [(f"event {k}", v) for k, v in {"type": event_type, **fields}.items()]
    else:
        rows.append(("decode error", error))
    emit_table([{"field": k, "value": v} for k, v in rows], ("field", "value"), "")


def _decoded(letter: DeadLetter) -> tuple[str | None, dict[str, Any] | None, str | None]:
    codec = Codec(registry_for(os.environ.get("SCHEMA_REGISTRY_URL")))
    try:
        event = codec.decode(letter.value)
    except DecodeError as e:
        return None, None, f"{e.code}: {e}"
    except RegistryUnavailable as e:
        raise OpsError(f"cannot ask the schema registry to decode {letter.position}: {e}") from None
    return type(event).__name__, dataclasses.asdict(event), None


dlq.add_command(redrive_dead_letters)
dlq.add_command(purge_dead_letters)
