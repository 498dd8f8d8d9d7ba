"""`payctl bench`: the same open-loop load through this design and through the synchronous
checkout it replaces, on a fresh embedded stack, with the provider as slow as asked (and, if
asked, down for a while in the middle); prints the comparison and writes JSON and a plot."""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from payctl.baseline.launch import start_baseline
from payctl.bench.ceiling import MAX_STEPS, Search, Step, search
from payctl.bench.cpu import measure
from payctl.bench.flows import Load, run_async_flow, run_sync_flow
from payctl.bench.plot import plot, plot_ceiling
from payctl.bench.report import ceiling_document, ceiling_table, result_document, table
from payctl.cli_logging import configure_cli_logging
from payctl.errors import StackError
from payctl.interrupts import interrupted_by_ctrl_c
from payctl.load import Kind, planned_payment
from payctl.services import (
    BFF_WORKERS,
    CONSUMER_SERVICES,
    SERVER_VARIABLES,
)
from payctl.stack import Stack, StackConfig

if TYPE_CHECKING:
    from payctl.baseline.launch import Baseline
    from payctl.bench.stats import FlowResult

FLOWS = ("async", "sync")
# The processes of this design; stopped while the synchronous flow runs, so that the two flows
# each have the machine to themselves.
ASYNC_PROCESSES = ("bff", "bff-projector", *CONSUMER_SERVICES)
# Before an idle stack is measured: consumers joining their groups, the first JIT compiling.
IDLE_SETTLE_SECONDS = 10.0
# With --ceiling, both flows are measured at this share of the async ceiling: a load this design
# carries with room to spare.
CEILING_SHARE = 0.8


@click.command()
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1),
    default=100.0,
    show_default=True,
    help="New payments per second, sent whatever the answers (open loop).",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=1),
    default=30.0,
    show_default=True,
    help="Seconds of load per flow.",
)
@click.option(
    "--provider-latency",
    "--provider-latency-ms",
    "provider_latency_ms",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="Milliseconds the simulated provider takes for every operation.",
)
@click.option(
    "--flow",
    "flows",
    type=click.Choice(FLOWS),
    multiple=True,
    help="Which flows to run (repeatable). [both]",
)
@click.option(
    "--outage",
    "outage_seconds",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds the provider answers 503, in the middle of each flow's load.",
)
@click.option(
    "--instances",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Instances of each consumer service.",
)
@click.option("--partitions", type=click.IntRange(min=1), default=6, show_default=True)
@click.option("--seed", type=int, help="Seeds the payments' amounts and lines. [random]")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where result.json and result.png go. [bench-results/<time>]",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".payments-bench"),
    show_default=True,
    help="The stack's data dir; wiped before the run, kept for its logs.",
)
@click.option(
    "--drain-timeout",
    type=click.FloatRange(min=1),
    default=300.0,
    show_default=True,
    help="Seconds for the accepted payments to finish after the load.",
)
@click.option(
    "--profile",
    is_flag=True,
    help="Sample every service with py-spy during the load; top functions go in the result.",
)
@click.option(
    "--idle",
    "idle_seconds",
    type=click.FloatRange(min=1),
    help="Send nothing: measure the CPU the idle stack uses over this many seconds, per process.",
)
@click.option(
    "--ceiling",
    is_flag=True,
    help="Find each flow's ceiling by stepping the rate (from --rate), then run both flows at "
    "80 % of the async ceiling for --duration seconds; writes ceiling.json and ceiling.png.",
)
@click.option(
    "--step-duration",
    type=click.FloatRange(min=1),
    default=20.0,
    show_default=True,
    help="With --ceiling: seconds of load per step.",
)
@click.option(
    "--ceiling-floor",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="With --ceiling: the lowest rate tried when even --rate is not sustained.",
)
@click.option(
    "--ceiling-steps",
    type=click.IntRange(min=1),
    default=MAX_STEPS,
    show_default=True,
    help="With --ceiling: at most this many steps per flow.",
)
@click.option("--progress/--no-progress", default=True, show_default=True)
def bench(
    rate: float,
    duration: float,
    provider_latency_ms: int,
    flows: tuple[str, ...],
    outage_seconds: float,
    instances: int,
    partitions: int,
    seed: int | None,
    out_dir: Path | None,
    data_dir: Path,
    drain_timeout: float,
    profile: bool,
    idle_seconds: float | None,
    ceiling: bool,
    step_duration: float,
    ceiling_floor: float,
    ceiling_steps: int,
    progress: bool,
) -> None:
    """Drive RATE payments per second for DURATION seconds through the BFF (accepts at once;
    the consumers finish each payment) and through a synchronous checkout (authorizes, creates
    and confirms the order and captures before it answers), both on one fresh embedded stack
    against the same simulated provider. Reports accept latency, click-to-ORDER_CONFIRMED and
    click-to-CAPTURED latency, throughput, errors, CPU per captured payment by process and the
    provider ledger's exactly-once check. Exits with status 1 if a ledger check fails.
    """
    configure_cli_logging()
    if idle_seconds is not None:
        _idle(_stack(data_dir, partitions, provider_latency_ms), idle_seconds, out_dir)
        return
    flows = flows or FLOWS
    seed = random.randrange(2**32) if seed is None else seed
    out_dir = out_dir or Path("bench-results") / time.strftime("%Y%m%d-%H%M%S")
    rng = random.Random(seed)
    run = f"{rng.getrandbits(32):08x}"

    def load_at(rate: float, seconds: float, tag: str, *, step: bool = False) -> Load:
        """The payments of a measured run, or of a ceiling step (no outage, no progress bar,
        no profile: it measures capacity only)."""
        count = max(1, round(rate * seconds))
        keys = (f"bench-{run}-{tag}-{n}" for n in range(count))
        plans = [planned_payment(key, Kind.APPROVED, rng) for key in keys]
        return Load(
            plans,
            rate,
            provider_latency_ms,
            0.0 if step else outage_seconds,
            drain_timeout,
            progress and not step,
            profile_dir=out_dir / "profiles" if profile and not step else None,
        )

    config = {
        "rate": rate,
        "duration": duration,
        "provider_latency_ms": provider_latency_ms,
        "outage_seconds": outage_seconds,
        "instances": instances,
        "partitions": partitions,
        "seed": seed,
        "payments_per_flow": max(1, round(rate * duration)),
    }
    stack = _stack(data_dir, partitions, provider_latency_ms)
    results: list[FlowResult] = []
    searches: dict[str, Search] = {}

    def run_flow(name: str, baseline: Baseline | None) -> None:
        """The ceiling search first if asked, then the measured run."""
        taken: list[str] = []  # by the steps: the measured run's audit accounts for them too

        def step(step_rate: float) -> FlowResult:
            # The sync flow's steps are audited each; the async flow's with the measured run,
            # once the stack is at rest.
            load = load_at(step_rate, step_duration, f"{name}{step_rate:g}", step=True)
            if baseline is not None:
                return run_sync_flow(stack, baseline, load)
            result = run_async_flow(stack, load, audit=False)
            taken.extend([*result.accepted, *result.unanswered])
            return result

        flow_rate = rate
        if ceiling:
            click.echo(f"{name} flow: ceiling search from {rate:g}/s", err=True)
            searches[name] = search(
                name,
                step,
                start=rate,
                floor=ceiling_floor,
                max_steps=ceiling_steps,
                on_step=_echo_step,
            )
            flow_rate = _measured_rate(searches, ceiling_floor)
            config["rate"] = flow_rate
            config["payments_per_flow"] = max(1, round(flow_rate * duration))
        load = load_at(flow_rate, duration, name)
        click.echo(f"{name} flow: {len(load.plans)} payments at {flow_rate:g}/s", err=True)
        if baseline is None:
            results.append(run_async_flow(stack, load, earlier=taken))
        else:
            results.append(run_sync_flow(stack, baseline, load))

    # SIGTERM too: the stack is stopped on the way out whichever signal ends the run.
    with interrupted_by_ctrl_c(also_sigterm=True):
        try:
            stack.start()
            if instances > 1:
                stack.start_instances(
                    (service, i) for service in CONSUMER_SERVICES for i in range(1, instances)
                )
            if "async" in flows:
                run_flow("async", None)
            if "sync" in flows:
                for name in stack.process_names:
                    if name.startswith(ASYNC_PROCESSES):
                        stack.stop_service(name)
                with start_baseline(stack, workers=BFF_WORKERS) as baseline:
                    run_flow("sync", baseline)
        except StackError as e:
            raise click.ClickException(str(e)) from None
        finally:
            stack.stop()
    document = result_document(config, results)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "result.json").write_text(json.dumps(document, indent=2))
    plot(document, out_dir / "result.png")
    click.echo(table(document))
    for flow in results:
        for process, tops in flow.profile.items():
            entries = ", ".join(f"{frame} {share}%" for frame, share in tops["self"][:5])
            click.echo(f"profile {flow.name} {process}: {entries}")
    click.echo(f"results    {out_dir / 'result.json'}  {out_dir / 'result.png'}")
    if ceiling:
        found = ceiling_document(document, searches)
        (out_dir / "ceiling.json").write_text(json.dumps(found, indent=2))
        plot_ceiling(found, out_dir / "ceiling.png")
        click.echo(ceiling_table(found))
        click.echo(f"ceiling    {out_dir / 'ceiling.json'}  {out_dir / 'ceiling.png'}")
    click.echo(f"seed       {seed}")
    steps = [step for found in searches.values() for step in found.steps]
    audited = [f.ledger.get("exactly_once") for f in results]
    audited += [s.figures["exactly_once"] for s in steps if s.figures["exactly_once"] is not None]
    if not all(audited):
        raise SystemExit(1)


def _measured_rate(searches: dict[str, Search], floor: float) -> float:
    """80 % of the async ceiling (of the sync one when only that flow runs), at least `floor`."""
    found = searches.get("async") or next(iter(searches.values()))
    return round(max(floor, CEILING_SHARE * found.ceiling), 2)


def _echo_step(step: Step) -> None:
    verdict = "sustained" if step.sustained else f"not sustained: {step.why}"
    p99 = step.figures["to_captured_p99_ms"]
    click.echo(f"  {step.rate:g}/s  click→CAPTURED p99 {p99} ms  {verdict}", err=True)


def _idle(stack: Stack, seconds: float, out_dir: Path | None) -> None:
    """The CPU of a stack that has nothing to do, once its start-up work is over."""
    with interrupted_by_ctrl_c(also_sigterm=True):
        try:
            stack.start()
            click.echo(
                f"idle stack: settling {IDLE_SETTLE_SECONDS:g} s, then measuring {seconds:g} s"
            )
            time.sleep(IDLE_SETTLE_SECONDS)
            usage = measure(stack, lambda: time.sleep(seconds))
        except StackError as e:
            raise click.ClickException(str(e)) from None
        finally:
            stack.stop()
    click.echo(usage.table())
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        document = {
            "seconds": usage.seconds,
            "percent_of_one_core": usage.share_of_a_core(),
            "cpu_seconds_by_process": usage.by_process,
        }
        (out_dir / "idle.json").write_text(json.dumps(document, indent=2))


def _stack(data_dir: Path, partitions: int, provider_latency_ms: int) -> Stack:
    # Real Kafka or PostgreSQL may be given through the environment, as for `payctl up`.
    env = {**os.environ, "PSP_LATENCY_MS": str(provider_latency_ms), "PSP_JITTER_MS": "0"}
    on_embedded = not any(v in os.environ for v in SERVER_VARIABLES)
    return Stack(StackConfig.on_free_ports(data_dir, env, fresh=on_embedded, partitions=partitions))
