"""Rules for a payment request that go beyond types and ranges (those are the API model's job).

Each returns the problem it finds, with a stable code, or None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable

# Amounts travel as Avro longs and are stored as Postgres BIGINTs.
MAX_TOTAL_MINOR = 2**63 - 1

# 12 to 19 digits, perhaps grouped by single spaces or dashes: the shape of a card number (PAN).
_CARD_NUMBER = re.compile(r"\d(?:[ -]?\d){11,18}")
# What providers hand out for a tokenized method: `pm_card_visa`, `tok_1Mq...`, `card_...`.
_PROVIDER_TOKEN = re.compile(r"[a-z][a-z0-9]*_[A-Za-z0-9_]+")


@dataclass(frozen=True)
class Problem:
    code: str
    message: str


def check_payment_method(token: str) -> Problem | None:
    # Checked first and answered without echoing the value: a card number must never reach
    # the outbox, Kafka or a log line, and the BFF is not in PCI scope for holding one.
    if _CARD_NUMBER.search(token):
        return Problem(
            "card_number_not_allowed",
            "payment_method looks like a card number; send the provider's token for the "
            "card (e.g. pm_card_visa), never the card number itself",
        )
    if not _PROVIDER_TOKEN.fullmatch(token):
        return Problem(
            "invalid_payment_method",
            "payment_method must be a provider token such as pm_card_visa",
        )
    return None


def check_total(amounts: Iterable[int]) -> Problem | None:
    if sum(amounts) > MAX_TOTAL_MINOR:
        return Problem("total_too_large", f"the lines add up to more than {MAX_TOTAL_MINOR}")
    return None
