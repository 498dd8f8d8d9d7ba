"""`payctl reconcile`: the provider's ledger against the services' tables, the BFF's statuses
and the events on the topics, for the payments accepted in a range of time; every mismatch
named with its payment. The checks are the audit's (`payctl.audit`), on a live system."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click
import psycopg

from payctl.audit import check
from payctl.audit_records import read_records
from payctl.errors import OpsError
from payctl.ops.command import data_dir_option, json_option, refusing, target_of
from payctl.ops.output import emit_json, emit_table, progress
from payctl.ops.when import INSTANT, SINCE, start_of
from payctl.topic_scan import Window
from payment_events.codec import Codec
from payment_events.registry import registry_for

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from confluent_kafka import Message

    from payctl.audit import AuditReport
    from payctl.ops.target import Target

# A verb that did its work and found something wrong (payctl.ops.command: 2 is "could not").
MISMATCHED = 1
COLUMNS = ("check", "payment_id", "detail")


@click.command()
@click.option("--since", type=SINCE, help="The payments accepted in the last SPAN: 15m, 2h, 1d.")
@click.option(
    "--from", "start", type=INSTANT, help="The payments accepted at or after this ISO instant."
)
@click.option("--until", "end", type=INSTANT, help="The payments accepted before this ISO instant.")
@click.option(
    "--settle-grace",
    type=SINCE,
    default="5m",
    show_default=True,
    help="A payment younger than this that is still in flight (PROCESSING, AUTHORIZED, "
    "ORDER_CONFIRMED), or FAILED with its void on the way, is settling, not a mismatch; an "
    "older one is reported as stuck. 0s: every payment must have settled.",
)
@json_option
@data_dir_option
@refusing
def reconcile(
    since: timedelta | None,
    start: datetime | None,
    end: datetime | None,
    settle_grace: timedelta,
    as_json: bool,
    data_dir: Path,
) -> None:
    """Reconciles the payments the BFF accepted in a range of time (by its payments'
    created_at; default: every payment) with everything else that tells their story. Each
    mismatch is named by its check:

    \b
    provider     the provider's ledger (operations by reference): exactly one
                 authorization, in the state the BFF status calls for; at most one
                 capture per payment order, all or some captured as the status says,
                 the amount the BFF shows; the void a refused order calls for; its
                 refunds adding up to the refunded amount the BFF shows
    agreement    billing's, orders' and capture's own tables: the status each should
                 be in, the BFF's order id, captured and refunded amounts, a payment
                 order per line
    events       the events on the topics (read from a little before the range to
                 their end): the chain the status calls for, each handled once
    settled      a payment still in flight past --settle-grace: stuck
    dead_letter  a message dead-lettered in the range and not re-driven since
                 (payctl dlq redrive; those are counted, not mismatches)

    Within the range only, also provider operations and events for a payment the BFF never
    accepted (provider, events) and undecodable messages (events).

    Every mismatch is printed as its check, payment id and what differs; --json gives the
    counts and the list. Exit status: 0 when everything agrees, 1 on any mismatch, 2 when it
    cannot run (the broker or a database cannot be reached, or bad options).
    """
    now = datetime.now(UTC)
    window = Window(start_of(since, start, now), end)
    if window.start and window.end and window.start >= window.end:
        raise click.UsageError("the range ends before it starts: --until must be after --from")
    report = reconcile_target(target_of(data_dir), window, settle_grace)
    if as_json:
        emit_json(reconcile_document(report, window, settle_grace))
    else:
        click.echo(headline(report, window))
        if report.violations:
            click.echo()
            emit_table(violation_rows(report), COLUMNS, empty="")
    if report.violations:
        raise SystemExit(MISMATCHED)


def reconcile_target(target: Target, window: Window, settle_grace: timedelta) -> AuditReport:
    """Reads what `window` holds from `target` (read-only) and checks it; OpsError when a part
    cannot be reached or read."""
    target.admin()  # says so when the broker cannot be reached, before anything is read
    for database in target.database_urls:
        target.connect(database).close()
    codec = Codec(registry_for(os.environ.get("SCHEMA_REGISTRY_URL")))
    try:
        records = read_records(
            target.bootstrap, target.database_urls, codec, window=window, watch=_progress
        )
    except psycopg.Error as e:
        raise OpsError(f"cannot read the services' tables: {str(e).strip()}") from None
    except TimeoutError as e:
        raise OpsError(f"cannot read the topics: {e}") from None
    return check(records, settle_grace=settle_grace)


def _progress(messages: Iterable[Message], total: int) -> Iterable[Message]:
    return progress(messages, total=total, what="reading topics")


def headline(report: AuditReport, window: Window) -> str:
    statuses = ", ".join(f"{s} {n}" for s, n in sorted(report.statuses.items())) or "none"
    settling = f"; {report.settling} still settling" if report.settling else ""
    redriven = f" ({report.redriven} re-driven dead letters)" if report.redriven else ""
    count = len(report.violations)
    found = (
        f"{count} mismatch{'' if count == 1 else 'es'} ({_counts(report.by_check)})"
        if count
        else "no mismatches"
    )
    return (
        f"{report.payments} payments accepted {describe(window)} ({statuses}{settling})\n"
        f"{report.messages} messages read{redriven}: {found}"
    )


def describe(window: Window) -> str:
    if window.everything:
        return "at any time"
    parts = []
    if window.start:
        parts.append(f"from {window.start.isoformat(timespec='seconds')}")
    if window.end:
        parts.append(f"until {window.end.isoformat(timespec='seconds')}")
    return " ".join(parts)


def _counts(by: dict[str, int]) -> str:
    return ", ".join(f"{name} {n}" for name, n in by.items())


def violation_rows(report: AuditReport) -> list[dict[str, Any]]:
    return [
        {"check": v.check, "payment_id": v.payment_id, "detail": v.detail}
        for v in report.violations
    ]


def reconcile_document(
    report: AuditReport, window: Window, settle_grace: timedelta
) -> dict[str, Any]:
    return {
        "range": {"from": window.start, "until": window.end},
        "settle_grace_seconds": settle_grace.total_seconds(),
        "payments_checked": report.payments,
        "by_status": dict(sorted(report.statuses.items())),
        "settling": report.settling,
        "messages_read": report.messages,
        "republished_copies": report.copies,
        "redriven_dead_letters": report.redriven,
        "violations_by_check": report.by_check,
        "violations": violation_rows(report),
    }
