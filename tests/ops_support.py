"""Running the ops verbs in tests as an operator would: `payctl <verb>` against a test stack,
through the same environment variables (KAFKA_BOOTSTRAP_SERVERS, <SERVICE>_DATABASE_URL)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from click.testing import CliRunner

from payctl.cli import main
from payctl.services import DATABASES

if TYPE_CHECKING:
    from click.testing import Result

    from payctl.stack import Stack


def ops_env(stack: Stack) -> dict[str, str]:
    """The variables that point payctl's ops verbs at `stack`."""
    env = {"KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap}
    env.update({db.env_var: stack.database_url(db.name) for db in DATABASES})
    return env


def payctl(stack: Stack, *args: str, input: str | None = None) -> Result:
    """`payctl ARGS` against `stack`; the result keeps its exit code and output."""
    return CliRunner().invoke(main, list(args), env=ops_env(stack), input=input)


def payctl_json(stack: Stack, *args: str) -> Any:
    """`payctl ARGS --json`, which must succeed; its parsed document."""
    result = payctl(stack, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
