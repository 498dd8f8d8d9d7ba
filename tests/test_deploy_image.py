"""The container image, checked without Docker: the Dockerfile with hadolint and against the
Makefile and the workspace, .dockerignore, and the health probe the image runs
(`python -m paykit.probe`) against a live endpoint and a closed port."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bff.settings import Settings as BffSettings
from payctl.embedded import free_port
from payctl.services import DEFAULT_HEALTH_PORTS
from paykit.probe import PORT_VARIABLES, port_from
from psp_sim.settings import Settings as PspSettings
from saas_demo.settings import Settings as SaasSettings

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(instruction, arguments) of each step, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    return [
        (line.split()[0].upper(), " ".join(line.split()[1:]))
        for line in lines
        if line and not line.startswith("#")
    ]


def final_stage() -> list[tuple[str, str]]:
    steps = dockerfile_instructions()
    return steps[max(i for i, (step, _) in enumerate(steps) if step == "FROM") :]


def test_hadolint_passes() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    linted = subprocess.run(
        [hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_image_installs_the_committed_lock_with_the_makefile_uv() -> None:
    steps = dockerfile_instructions()
    [uv_version] = re.findall(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M)
    assert ("ARG", f"UV_VERSION={uv_version}") in steps
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in steps
    syncs = [args for step, args in steps if step == "RUN" and "uv sync" in args]
    assert len(syncs) == 2  # the dependencies, then the members
    for sync in syncs:
        assert "uv sync --frozen --no-dev --no-editable --all-packages" in sync
    assert "--no-install-workspace" in syncs[0]
    # uv keys a member it built by its pyproject.toml's mtime: a cached build would outlive a
    # change of the code.
    assert "--no-cache" in syncs[1]
    assert "--mount=type=cache" not in syncs[1]
    # Compiled where uv runs: the final stage never writes bytecode (PYTHONDONTWRITEBYTECODE).
    assert "UV_COMPILE_BYTECODE=1" in " ".join(a for s, a in steps if s == "ENV").split()


def test_final_stage_has_the_venv_only_and_runs_as_a_user() -> None:
    final = final_stage()
    assert final[0] == ("FROM", "${PYTHON_IMAGE}")  # the build stage's Python, by path
    assert [args for step, args in final if step == "COPY"] == ["--from=build /opt/venv /opt/venv"]
    runs = " ".join(args for step, args in final if step == "RUN")
    assert not {"uv", "pip", "apt-get", "gcc"} & set(runs.split())
    [user] = [args for step, args in final if step == "USER"]
    assert user.split(":")[0] == "10001"
    env = " ".join(args for step, args in final if step == "ENV").split()
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env
    settings = " ".join(args for step, args in dockerfile_instructions() if step in ("ENV", "ARG"))
    assert not re.search(r"SECRET|PASSWORD|_KEY\b", settings)
    [healthcheck] = [args for step, args in final if step == "HEALTHCHECK"]
    assert healthcheck.endswith('CMD ["python", "-m", "paykit.probe"]')


def test_image_exposes_the_ports_the_processes_serve_by_default() -> None:
    exposed = {int(p) for step, args in final_stage() if step == "EXPOSE" for p in args.split()}
    api_ports = {s.model_fields["port"].default for s in (BffSettings, PspSettings, SaasSettings)}
    assert exposed == {*api_ports, *DEFAULT_HEALTH_PORTS.values()}


def test_image_gets_every_workspace_member_and_nothing_else() -> None:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    copies = {args for step, args in dockerfile_instructions() if step == "COPY"}
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    patterns = [line for line in lines if line and not line.startswith("#")]
    # Everything out, then what may go in: a local .env, .venv or data dir stays out.
    assert patterns[0] == "*"
    for member in root["tool"]["uv"]["workspace"]["members"]:
        project = tomllib.loads((ROOT / member / "pyproject.toml").read_text())
        assert f"{member}/pyproject.toml {member}/" in copies, member
        assert f"{member}/ {member}/" in copies, member
        assert f"!{member}/pyproject.toml" in patterns, member
        for package in project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]:
            assert f"!{member}/{package}/" in patterns, (member, package)


# -- the probe -------------------------------------------------------------------------------


def test_probe_looks_at_the_health_port_then_the_bff_then_the_provider() -> None:
    assert PORT_VARIABLES == ("HEALTH_PORT", "BFF_PORT", "PSP_PORT", "SAAS_PORT")
    assert port_from({"HEALTH_PORT": "9102", "BFF_PORT": "8000"}) == 9102
    assert port_from({"BFF_PORT": "8000", "PSP_PORT": "8010"}) == 8000
    assert port_from({"PSP_PORT": "8010"}) == 8010
    assert port_from({"HEALTH_PORT": "0", "PSP_PORT": "8010"}) == 8010  # 0: chosen by the OS
    assert port_from({}) is None


@pytest.fixture
def health_server() -> Iterator[tuple[int, list[int]]]:
    """A /healthz on a free port answering the last status of the list yielded with it."""
    status = [200]

    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            code = status[-1] if self.path == "/healthz" else 404
            self.send_response(code)
            self.end_headers()
            self.wfile.write(b"{}" if code == 200 else b'{"status": "unavailable"}')

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], status
    server.shutdown()
    server.server_close()


def probe(port: int) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in PORT_VARIABLES}
    return subprocess.run(
        [sys.executable, "-m", "paykit.probe"],
        env={**env, "HEALTH_PORT": str(port)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_probe_exits_0_while_healthz_answers_200_and_1_otherwise(
    health_server: tuple[int, list[int]],
) -> None:
    port, status = health_server
    assert probe(port).returncode == 0
    status.append(503)
    unhealthy = probe(port)
    assert unhealthy.returncode == 1
    assert "503" in unhealthy.stderr


def test_probe_exits_1_when_nothing_listens() -> None:
    closed = probe(free_port())
    assert closed.returncode == 1
    assert "/healthz" in closed.stderr
