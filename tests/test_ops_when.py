"""The times the ops verbs take on their command line: spans back from now and ISO instants,
and a clear refusal of anything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import click
import pytest
from click.testing import CliRunner

from payctl.ops.when import INSTANT, SINCE, parse_instant, parse_since, start_of


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("0s", timedelta()),
    ],
)
def test_a_span_is_a_number_and_a_unit(text: str, span: timedelta) -> None:
    assert parse_since(text) == span


@pytest.mark.parametrize("text", ["", "15", "m", "15 minutes", "-5m", "1.5h", "15m!", "3w"])
def test_anything_else_is_refused_with_an_example(text: str) -> None:
    with pytest.raises(click.BadParameter, match="e.g. 15m, 2h, 1d"):
        parse_since(text)


def test_an_instant_keeps_its_offset() -> None:
    assert parse_instant("2026-12-01T10:00:00Z") == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert parse_instant("2026-12-01T11:00:00+01:00") == datetime(2026, 12, 1, 10, tzinfo=UTC)
    assert parse_instant("2026-12-01T11:00:00+01:00").utcoffset() == timedelta(hours=1)


def test_an_instant_without_a_time_zone_is_refused() -> None:
    with pytest.raises(click.BadParameter, match="no time zone: add Z"):
        parse_instant("2026-12-01T10:00:00")


def test_a_malformed_instant_is_refused_with_an_example() -> None:
    with pytest.raises(click.BadParameter, match="not an ISO 8601 instant"):
        parse_instant("yesterday")


def test_a_range_starts_a_span_before_now_or_at_the_instant_given() -> None:
    now = datetime(2026, 12, 1, 10, tzinfo=UTC)
    instant = datetime(2026, 11, 30, tzinfo=timezone(timedelta(hours=2)))

    assert start_of(timedelta(minutes=15), None, now) == datetime(2026, 12, 1, 9, 45, tzinfo=UTC)
    assert start_of(None, instant, now) == instant
    assert start_of(None, None, now) is None
    with pytest.raises(click.UsageError, match="--since or --from, not both"):
        start_of(timedelta(minutes=15), instant, now)


def test_options_of_these_types_name_the_option_and_the_bad_value() -> None:
    @click.command()
    @click.option("--since", type=SINCE)
    @click.option("--from", "start", type=INSTANT)
    def verb(since: timedelta | None, start: datetime | None) -> None:
        click.echo(f"{since} {start}")

    runner = CliRunner()
    good = runner.invoke(verb, ["--since", "2h", "--from", "2026-12-01T10:00:00Z"])
    assert good.exit_code == 0, good.output
    assert good.output.strip() == "2:00:00 2026-12-01 10:00:00+00:00"

    bad = runner.invoke(verb, ["--since", "soon"])
    assert bad.exit_code == 2
    assert "Invalid value for '--since': 'soon' is not a span of time" in bad.output
