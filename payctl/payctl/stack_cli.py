"""payctl's verbs about the stack itself: `up` runs the embedded stack in the foreground, `token`
prints a bearer token for the development BFF, `soak` runs payments through a fresh stack while
its services are killed, and audits the result."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from payctl.chaos import run_chaos
from payctl.cli_logging import configure_cli_logging
from payctl.errors import StackError
from payctl.services import DEFAULT_HEALTH_PORTS, SERVER_VARIABLES, SERVICE_NAMES
from payctl.stack import Stack, StackConfig
from payctl.tokens import development_token

if TYPE_CHECKING:
    from types import FrameType

SUPERVISE_INTERVAL_SECONDS = 0.5
PORT = click.IntRange(1, 65535)
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _Stopped(Exception):
    """SIGINT or SIGTERM arrived: leave whatever `up` is doing and stop the stack."""


def _raise_stopped(signum: int, frame: FrameType | None) -> NoReturn:
    # Further signals are ignored: a second Ctrl-C must not cut the stop short and leave
    # processes behind.
    _ignore_stop_signals()
    raise _Stopped(signal.Signals(signum).name)


def _ignore_stop_signals() -> None:
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".payments-data"),
    show_default=True,
    help="Where PostgreSQL's and the broker's data and the logs live.",
)
@click.option("--fresh", is_flag=True, help="Wipe the data dir before starting.")
@click.option(
    "--partitions",
    type=click.IntRange(min=1),
    default=6,
    show_default=True,
    help="Partitions of topics created now; existing topics keep theirs.",
)
@click.option("--bff-port", type=PORT, default=8000, show_default=True)
@click.option("--psp-port", type=PORT, default=8010, show_default=True)
@click.option("--saas-port", type=PORT, default=8030, show_default=True, help="Of saas-demo.")
@click.option(
    "--kafka-port",
    type=PORT,
    default=9092,
    show_default=True,
    help="Of the embedded broker; unused when KAFKA_BOOTSTRAP_SERVERS is set.",
)
@click.option(
    "--health-ports",
    "first_health_port",
    type=click.IntRange(1, 65535 - len(DEFAULT_HEALTH_PORTS)),
    default=min(DEFAULT_HEALTH_PORTS.values()),
    show_default=True,
    help="First of the consecutive health ports of the projector and the consumers.",
)
@click.option(
    "--without",
    type=click.Choice(SERVICE_NAMES),
    multiple=True,
    help="Do not start this service (repeatable): e.g. while its database is restored and "
    "`payctl replay` re-delivers to it (docs/runbook.md).",
)
def up(
    data_dir: Path,
    fresh: bool,
    partitions: int,
    bff_port: int,
    psp_port: int,
    saas_port: int,
    kafka_port: int,
    first_health_port: int,
    without: tuple[str, ...],
) -> None:
    """Run the whole stack in the foreground until Ctrl-C or SIGTERM.

    Prints each service's URL, then one line `ready` once every service is healthy. A service
    that dies is restarted; its output is in DATA_DIR/logs/<service>.log.
    """
    configure_cli_logging()
    health_names = [n for n in SERVICE_NAMES if n in DEFAULT_HEALTH_PORTS]
    stack = Stack(
        StackConfig(
            data_dir=data_dir,
            fresh=fresh,
            partitions=partitions,
            bff_port=bff_port,
            psp_port=psp_port,
            saas_port=saas_port,
            kafka_port=kafka_port,
            health_ports={n: first_health_port + i for i, n in enumerate(health_names)},
            without=frozenset(without),
            env=dict(os.environ),
        )
    )
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in STOP_SIGNALS}
    try:
        stack.start()
        _print_addresses(stack)
        click.echo("ready")
        while True:
            stack.supervise()
            time.sleep(SUPERVISE_INTERVAL_SECONDS)
    except _Stopped:
        pass
    except StackError as e:
        raise click.ClickException(str(e)) from None
    finally:
        _ignore_stop_signals()
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _print_addresses(stack: Stack) -> None:
    rows = {"kafka": stack.bootstrap}
    if stack.postgres_url:
        rows["postgres"] = stack.postgres_url
    rows.update(
        {
            name: f"{url} (not started: --without)" if name in stack.config.without else url
            for name, url in stack.urls.items()
        }
    )
    rows["logs"] = str(stack.config.layout.logs)
    width = max(map(len, rows))
    for name, address in rows.items():
        click.echo(f"{name:<{width}}  {address}")


@click.command()
@click.option("--subject", default="developer", show_default=True, help="The token's `sub`.")
@click.option(
    "--ttl", type=click.IntRange(min=1), default=3600, show_default=True, help="Seconds valid."
)
def token(subject: str, ttl: int) -> None:
    """Print a bearer token the BFF accepts, signed with BFF_AUTH_SECRET (or the development
    secret when it is unset)."""
    click.echo(development_token(os.environ, subject, ttl))


# Unless the environment says otherwise, the provider answers in 0-5 ms: the soak is about
# crashes, not about waiting on a slow provider.
FAST_PROVIDER = {"PSP_LATENCY_MS": "2", "PSP_JITTER_MS": "3"}


@click.command()
@click.option("--payments", type=click.IntRange(min=1), default=2000, show_default=True)
@click.option(
    "--kills",
    type=click.IntRange(min=0),
    default=30,
    show_default=True,
    help="SIGKILLs, shared out over billing, order and capture consumers, projector and BFF.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    default=25.0,
    show_default=True,
    help="New payments per second; the kills land over PAYMENTS/RATE seconds.",
)
@click.option("--seed", type=int, help="Replays a run's payments and kill moments. [random]")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".payments-soak"),
    show_default=True,
    help="Wiped before the run, kept after it for its logs.",
)
@click.option(
    "--drain-timeout",
    type=click.FloatRange(min=1),
    default=600.0,
    show_default=True,
    help="Seconds for every payment to settle after the last one went in.",
)
def soak(
    payments: int, kills: int, rate: float, seed: int | None, data_dir: Path, drain_timeout: float
) -> None:
    """Run PAYMENTS payments (approved, declined, refused orders; 1-5 seller lines) through the
    BFF of a fresh embedded stack while KILLS SIGKILLs land on its services at random moments,
    each started again after a short random delay; wait until every payment settled, audit, and
    print a summary. Exits with status 1 on any violation.
    """
    configure_cli_logging()
    seed = random.randrange(2**32) if seed is None else seed
    # Always its own embedded servers: the audit reads every topic from the beginning and every
    # payment in the databases, which on shared servers would include other runs.
    env = {k: v for k, v in os.environ.items() if k not in SERVER_VARIABLES}
    env = {**FAST_PROVIDER, **env}
    stack = Stack(StackConfig.on_free_ports(data_dir, env, fresh=True))
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in STOP_SIGNALS}
    try:
        stack.start()
        run = run_chaos(
            stack,
            payments=payments,
            kills=kills,
            seed=seed,
            rate=rate,
            drain_timeout=drain_timeout,
        )
    except _Stopped:
        raise click.ClickException("stopped before the soak finished") from None
    except StackError as e:
        raise click.ClickException(str(e)) from None
    finally:
        _ignore_stop_signals()
        stack.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(run.summary())
    click.echo(f"seed       {seed}")
    click.echo(f"logs       {stack.config.layout.logs}")
    if not run.passed:
        raise SystemExit(1)
