"""What every ops verb shares on the command line: where the stack is (`--data-dir` and the
environment), `--json`, and turning an OpsError into a clear message with exit status 2."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from payctl.errors import OpsError
from payctl.ops.target import Target

if TYPE_CHECKING:
    from collections.abc import Callable

P = ParamSpec("P")
R = TypeVar("R")

# A verb that could not do what was asked exits with this; 1 is left for a verb that did its
# work and found something wrong (reconcile's mismatches).
REFUSED = 2


class Refused(click.ClickException):
    exit_code = REFUSED


def data_dir_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path(".payments-data"),
        show_default=True,
        help="The embedded stack's data dir, where its PostgreSQL is found when DATABASE_URL "
        "and the services' *_DATABASE_URL are unset.",
    )(f)


def json_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON for scripts instead of a table."
    )(f)


def target_of(data_dir: Path) -> Target:
    return Target.from_env(os.environ, data_dir)


def refusing(f: Callable[P, R]) -> Callable[P, R]:
    """Runs a verb; an OpsError becomes its message on standard error and exit status 2."""

    @functools.wraps(f)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return f(*args, **kwargs)
        except OpsError as e:
            raise Refused(str(e)) from None

    return run
