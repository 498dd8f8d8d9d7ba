"""What tests of deploy/prometheus do with Prometheus' own programs: run promtool, run a
Prometheus server on a config and ask its HTTP API, and read metric names out of PromQL and out
of a /metrics page."""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import yaml

from payctl.embedded import free_port, wait_for
from payctl.process import end_with_this_process, tail

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

INSTALL_HINT = "`make install` installs Debian's prometheus package"


def promtool(*args: str, cwd: Path) -> None:
    """Runs promtool; fails with its output unless it succeeds."""
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail(f"promtool is not on PATH: {INSTALL_HINT}")
    done = subprocess.run([tool, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, f"promtool {' '.join(args)}:\n{done.stdout}{done.stderr}"


@contextlib.contextmanager
def prometheus_server(config: dict[str, Any], home: Path) -> Iterator[str]:
    """A Prometheus server on `config`, on 127.0.0.1 and a free port, its data under `home`;
    yields its URL once it is ready and stops it after."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail(f"prometheus is not on PATH: {INSTALL_HINT}")
    config_file = home / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    address = f"127.0.0.1:{free_port()}"
    log = home / "prometheus.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={home / 'data'}",
                f"--web.listen-address={address}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=end_with_this_process(),
        )
    url = f"http://{address}"
    try:

        def ready() -> bool:
            assert server.poll() is None, f"prometheus exited with {server.returncode}"
            return httpx.get(f"{url}/-/ready", timeout=2, trust_env=False).status_code == 200

        try:
            wait_for(ready, 30, "prometheus")
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{tail(log)}") from e
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def api(prometheus: str, path: str, **params: str) -> Any:
    """The `data` of Prometheus' answer to GET /api/v1/<path>."""
    response = httpx.get(f"{prometheus}/api/v1/{path}", params=params, timeout=5, trust_env=False)
    response.raise_for_status()
    return response.json()["data"]


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
PROMQL_WORDS |= {"unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not its functions, labels or keywords)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\$\{?\w+\}?", "", expr)
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for word in re.finditer(r"(?<![\w.:])[A-Za-z_:][\w:]*", expr):
        if not expr[word.end() :].lstrip().startswith("(") and word[0] not in PROMQL_WORDS:
            names.add(word[0])
    return names


def exported_names(page: str) -> set[str]:
    """The metric names a /metrics page exports: its samples', and those its TYPE lines declare
    (a labelled metric has no sample until it is first used)."""
    suffixes = {"histogram": ["_bucket", "_sum", "_count"], "summary": ["_sum", "_count"]}
    names = set()
    for line in page.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            names |= {name, *(name + suffix for suffix in suffixes.get(kind, []))}
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names
