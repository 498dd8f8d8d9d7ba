"""The bench's picture: throughput and latency over time, one line per flow, the provider
outage shaded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")  # files only: the bench runs on machines with no screen

import matplotlib.pyplot as plt  # noqa: E402

if TYPE_CHECKING:
    from pathlib import Path

COLOURS = {"async": "tab:blue", "sync": "tab:red"}


def _series(values: list[float | None]) -> list[float]:
    return [float("nan") if v is None else v for v in values]


def plot(result: dict[str, Any], path: Path) -> None:
    flows: dict[str, Any] = result["flows"]
    fig, (rate, latency) = plt.subplots(2, 1, figsize=(11, 8), sharex=True)
    for name, flow in flows.items():
        t = flow["timeline"]
        colour = COLOURS.get(name)
        rate.plot(t["second"], t["accepted"], color=colour, label=f"{name}: accepted/s")
        rate.plot(
            t["second"], t["captured"], color=colour, linestyle="--", label=f"{name}: captured/s"
        )
        rate.plot(t["second"], t["failed"], color=colour, linestyle=":", label=f"{name}: failed/s")
        latency.plot(
            t["second"], _series(t["accept_p99_ms"]), color=colour, label=f"{name}: accept p99"
        )
        latency.plot(
            t["second"],
            _series(t["captured_p99_ms"]),
            color=colour,
            linestyle="--",
            label=f"{name}: click→CAPTURED p99",
        )
        outage = flow["summary"].get("outage_seconds")
        if outage:
            for axis in (rate, latency):
                axis.axvspan(*outage, color=colour, alpha=0.08)
    config = result["config"]
    rate.axhline(config["rate"], color="grey", linewidth=0.8, label="offered rate")
    rate.set_ylabel("payments per second")
    rate.legend(loc="upper right", fontsize="small")
    latency.set_yscale("log")
    latency.set_ylabel("latency, ms (log), by second of the click")
    latency.set_xlabel("seconds since the run started")
    latency.legend(loc="upper right", fontsize="small")
    machine = result["machine"]
    fig.suptitle(
        f"payctl bench: {config['rate']:g}/s for {config['duration']:g} s, provider latency "
        f"{config['provider_latency_ms']} ms"
        + (f", provider 503 for {config['outage_seconds']:g} s" if config["outage_seconds"] else "")
        + f"\n{machine['cpus']} cores, {machine['memory_gib']} GiB"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_ceiling(found: dict[str, Any], path: Path) -> None:
    """Latency against offered rate, one colour per flow: click→CAPTURED p50 and p99 and the
    accept p99 of every step, the p99 limit and each flow's ceiling."""
    fig, axis = plt.subplots(figsize=(10, 6))
    for name, flow in found["flows"].items():
        colour = COLOURS.get(name)
        steps = flow["steps"]
        rates = [s["rate"] for s in steps]
        for key, style, label in (
            ("to_captured_p99_ms", "-", "click→CAPTURED p99"),
            ("to_captured_p50_ms", "--", "click→CAPTURED p50"),
            ("accept_p99_ms", ":", "accept p99"),
        ):
            values = _series([s[key] for s in steps])
            axis.plot(rates, values, style, marker="o", color=colour, label=f"{name}: {label}")
        axis.axvline(flow["ceiling_per_s"], color=colour, linewidth=0.8, alpha=0.6)
    axis.axhline(found["criteria"]["click_to_captured_p99_below_ms"], color="grey", linewidth=0.8)
    axis.set_yscale("log")
    axis.set_xlabel("offered payments per second")
    axis.set_ylabel("latency, ms (log)")
    axis.legend(loc="upper left", fontsize="small")
    config, machine = found["config"], found["machine"]
    ceilings = ", ".join(f"{n} {f['ceiling_per_s']:g}/s" for n, f in found["flows"].items())
    fig.suptitle(
        f"payctl bench --ceiling: provider latency {config['provider_latency_ms']} ms; "
        f"ceilings (p99 < 2 s, no backlog): {ceilings}\n"
        f"{machine['cpus']} cores, {machine['memory_gib']} GiB"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
