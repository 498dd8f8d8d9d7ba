"""How the ops verbs read a time on their command line: `--since 15m` (a span back from now) and
`--from 2026-12-01T10:00:00Z` (an instant), with the same meaning in every verb."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from click import Context, Parameter

_SPAN = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str) -> timedelta:
    """`15m`, `2h`, `1d`, `90s` or a sum of them (`1h30m`) as a span of time."""
    spans = list(_SPAN.finditer(text.strip()))
    if not spans or "".join(s.group(0) for s in spans) != text.strip():
        raise click.BadParameter(
            f"{text!r} is not a span of time: give a number and a unit (s, m, h, d), "
            "e.g. 15m, 2h, 1d or 1h30m"
        )
    return sum(
        (timedelta(**{_UNITS[s.group(2)]: int(s.group(1))}) for s in spans), start=timedelta()
    )


def parse_instant(text: str) -> datetime:
    """An ISO 8601 instant with its offset (`2026-12-01T10:00:00Z`, `...+01:00`), time zone
    aware. One without an offset is refused rather than read in some zone the operator did not
    mean."""
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.BadParameter(
            f"{text!r} is not an ISO 8601 instant, e.g. 2026-12-01T10:00:00Z"
        ) from None
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise click.BadParameter(
            f"{text!r} has no time zone: add Z for UTC or an offset such as +01:00"
        )
    return instant


def start_of(since: timedelta | None, start: datetime | None, now: datetime) -> datetime | None:
    """Where a range begins, from `--since` or `--from` (not both); None: from the beginning."""
    if since is not None and start is not None:
        raise click.UsageError("give --since or --from, not both")
    if since is not None:
        return now - since
    return start


class Since(click.ParamType[timedelta, Any]):
    name = "SPAN"

    def convert(self, value: Any, param: Parameter | None, ctx: Context | None) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_since(str(value))
        except click.BadParameter as e:
            self.fail(e.message, param, ctx)


class Instant(click.ParamType[datetime, Any]):
    name = "ISO-TIME"

    def convert(self, value: Any, param: Parameter | None, ctx: Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_instant(str(value))
        except click.BadParameter as e:
            self.fail(e.message, param, ctx)


SINCE = Since()
INSTANT = Instant()
