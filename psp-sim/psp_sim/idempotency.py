"""Idempotency keys as Stripe honours them: the same key with the same request replays the first
response; the same key with another request is refused. The key is claimed, and the answer
stored, by the operation's own statement (see `operations`): a request in flight holds its key
against a concurrent twin, which waits, then replays.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    """The request as the key protects it: the same parameters in any order or spacing match."""
    canonical = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
