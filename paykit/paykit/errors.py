"""Named errors and how the consumer runtime treats them.

A `PermanentError` is about the message: retrying cannot help, so it goes to the dead-letter topic
and the partition moves on. A `TransientError` is about the world (a database, a broker, a
provider): the message is not committed and is retried.
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
