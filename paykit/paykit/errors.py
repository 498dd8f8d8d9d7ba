"""Named errors and how the consumer runtime treats them.

A `PermanentError` is about the message: retrying cannot help, so it goes to the dead-letter topic
and the partition moves on. A `TransientError` is about the world this service cannot work
without (its database, the broker): the message is not committed and is retried in place, since
every other message would fail the same way. A `RetryLater` is about one outside party (the
payment provider) failing for some calls: the message moves to the durable retry schedule, with
backoff and a bounded number of attempts, so other payments go on meanwhile.
"""

from __future__ import annotations


class PaymentsError(Exception):
    code = "error"


class PermanentError(PaymentsError):
    code = "permanent_error"


class TransientError(PaymentsError):
    code = "transient_error"


class ImpossibleEvent(PermanentError):
    """Well-formed, but cannot apply to the state this service holds."""

    code = "impossible_event"


class RetryLater(PaymentsError):
    """Handle this message again later, from the retry schedule; the handler's transaction is
    rolled back. After the last attempt the service's give-up handler records a terminal state."""

    code = "retry_later"
