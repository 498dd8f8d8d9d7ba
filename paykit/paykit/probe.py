"""`python -m paykit.probe`: a container's health check. GETs `/healthz` of the process in this
container and exits 0 on 200, 1 on anything else (503 with the failing check, no answer, no
port known), writing why to standard error for `docker inspect`.

The port is the one the process serves `/healthz` on: `HEALTH_PORT` (the consumers and the
projector), else `BFF_PORT` (the BFF's API), else `PSP_PORT` (the simulated provider).

Standard library only, and the three variables read directly rather than through a settings
class: it runs every few seconds in every container, so it must start in milliseconds, and it
must not fail because some other setting of the service does not validate."""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

# In the order they are looked at; a service sets exactly one of them.
PORT_VARIABLES = ("HEALTH_PORT", "BFF_PORT", "PSP_PORT", "SAAS_PORT")
HOST = "127.0.0.1"
# Below the image's HEALTHCHECK timeout, so the probe says why rather than being killed.
TIMEOUT_SECONDS = 3.0


def port_from(env: Mapping[str, str]) -> int | None:
    """The port of `/healthz`; None when no variable names one. HEALTH_PORT=0 (a port the
    process chose itself, as in tests) names none: the probe cannot know it."""
    for name in PORT_VARIABLES:
        value = env.get(name, "").strip()
        if not value or value == "0":
            continue
        if not value.isdigit():
            raise ValueError(f"{name}={value!r} is not a port")
        return int(value)
    return None


def probe(env: Mapping[str, str]) -> tuple[bool, str]:
    """Whether the process is healthy, and what it answered."""
    try:
        port = port_from(env)
    except ValueError as e:
        return False, str(e)
    if port is None:
        return False, f"no health port: set one of {', '.join(PORT_VARIABLES)}"
    url = f"http://{HOST}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as answer:
            return answer.status == 200, f"{url}: {answer.status}"
    except urllib.error.HTTPError as e:
        return False, f"{url}: {e.code} {e.read(300).decode(errors='replace')}"
    except (OSError, ValueError) as e:
        return False, f"{url}: {e}"


def main() -> int:
    healthy, said = probe(os.environ)
    if not healthy:
        sys.stderr.write(said + "\n")
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
