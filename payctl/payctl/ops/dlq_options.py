"""What `payctl dlq` reads on its command line: a dead letter's id, a topic, and the selectors
(`--topic`, `--payment`, `--code`, `--service`) that pick dead letters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from payctl.errors import OpsError
from payctl.ops.dead_letter_store import Selection, dead_letter_position, dead_letter_topic
from payctl.ops.groups import GROUPS
from payctl.ops.topic_ranges import Position

if TYPE_CHECKING:
    from collections.abc import Callable

    from click import Context, Parameter

ID_HELP = "TOPIC:PARTITION:OFFSET of a dead letter, e.g. order-failed.dlq:3:17 ('.dlq' optional)"


class DeadLetterId(click.ParamType[Position, Any]):
    name = "ID"

    def convert(self, value: Any, param: Parameter | None, ctx: Context | None) -> Position:
        if isinstance(value, Position):
            return value
        try:
            return dead_letter_position(str(value))
        except OpsError as e:
            self.fail(str(e), param, ctx)


class DeadLetterTopic(click.ParamType[str, Any]):
    name = "TOPIC"

    def convert(self, value: Any, param: Parameter | None, ctx: Context | None) -> str:
        try:
            return dead_letter_topic(str(value))
        except OpsError as e:
            self.fail(str(e), param, ctx)


DEAD_LETTER_ID = DeadLetterId()
DEAD_LETTER_TOPIC = DeadLetterTopic()


def selectors(f: Callable[..., Any]) -> Callable[..., Any]:
    """`--topic`, `--payment`, `--code`, `--service`, each repeatable."""
    options = [
        click.option(
            "--topic",
            "topics",
            multiple=True,
            type=DEAD_LETTER_TOPIC,
            help="A topic (order-failed) or its dead-letter topic (order-failed.dlq).",
        ),
        click.option(
            "--payment",
            "payments",
            multiple=True,
            metavar="PAYMENT_ID",
            help="Dead letters of this payment (their key).",
        ),
        click.option(
            "--code",
            "codes",
            multiple=True,
            help="With this dlq.error.code (unknown_payment, ...).",
        ),
        click.option(
            "--service",
            "services",
            multiple=True,
            type=click.Choice([g.service for g in GROUPS]),
            help="Dead-lettered by this consumer.",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def selection_of(**given: Any) -> Selection:
    """The selectors' values as a Selection: several values of one option are alternatives."""
    return Selection(**{name: frozenset(values) for name, values in given.items()})
