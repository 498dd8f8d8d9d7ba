"""`payctl`: the one command-line entry point. Each verb's module is imported only when that verb
runs: `payctl bench` brings matplotlib, the stack SQLAlchemy and Alembic, and an ops verb such as
`payctl trace` must answer in a second, not after loading all of them."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from collections.abc import Mapping

# verb -> "module:command"; `payctl --help` lists them (and imports each for its summary).
VERBS: Mapping[str, str] = {
    "up": "payctl.stack_cli:up",
    "token": "payctl.stack_cli:token",
    "checkout": "payctl.checkout_cli:checkout",
    "soak": "payctl.stack_cli:soak",
    "bench": "payctl.bench.command:bench",
    "replay": "payctl.ops.replay:replay",
    "dlq": "payctl.ops.dlq:dlq",
    "lag": "payctl.ops.lag:lag",
    "trace": "payctl.ops.trace:trace",
    "reconcile": "payctl.ops.reconcile:reconcile",
    "migrate": "payctl.deploy_jobs:migrate",
    "topics": "payctl.deploy_jobs:topics",
}


class Verbs(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(VERBS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = VERBS.get(cmd_name)
        if where is None:
            return None
        module, _, name = where.partition(":")
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=Verbs)
def main() -> None:
    """Runs the payments platform on this machine and hosts ops verbs."""
