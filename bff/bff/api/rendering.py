"""JSON answers rendered by orjson: a few times faster than the standard library's encoder on
every answer of the API, the accept path's first."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
