"""Ctrl-C for the verbs that run until it comes (`lag --watch`, `bench`): whoever started them.

A non-interactive shell starts its background jobs (`make test &`, nohup, CI runners) with SIGINT
ignored, and Python leaves an ignored SIGINT ignored, so without this a Ctrl-C (or the SIGINT a
supervisor sends) would never reach the verb.
"""

from __future__ import annotations

import contextlib
import signal
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def interrupted_by_ctrl_c(*, also_sigterm: bool = False) -> Iterator[None]:
    """SIGINT (and SIGTERM, if asked) raise KeyboardInterrupt inside; the handlers before are
    restored on the way out."""
    signals = (signal.SIGINT, signal.SIGTERM) if also_sigterm else (signal.SIGINT,)
    previous = {sig: signal.signal(sig, signal.default_int_handler) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
