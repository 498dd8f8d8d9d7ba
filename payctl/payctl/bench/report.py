"""The bench's result: one JSON document (machine, configuration, each flow's summary and
timeline, the ratios between the flows) and the table printed at the end."""

from __future__ import annotations

import os
import platform
from typing import TYPE_CHECKING, Any

from payctl.bench.ceiling import KEEPING_UP, P99_LIMIT_MS, ratios

if TYPE_CHECKING:
    from payctl.bench.ceiling import Search
    from payctl.bench.stats import FlowResult

# (label, path into a flow's summary); the ratio column is sync / async.
ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("requests", ("requests",)),
    ("accepted", ("accepted",)),
    ("failed", ("failed",)),
    ("completed (CAPTURED)", ("completed",)),
    ("accept p50 ms", ("accept_ms", "p50")),
    ("accept p95 ms", ("accept_ms", "p95")),
    ("accept p99 ms", ("accept_ms", "p99")),
    ("accept max ms", ("accept_ms", "max")),
    ("click→ORDER_CONFIRMED p50 ms", ("to_order_confirmed_ms", "p50")),
    ("click→ORDER_CONFIRMED p99 ms", ("to_order_confirmed_ms", "p99")),
    ("click→CAPTURED p50 ms", ("to_captured_ms", "p50")),
    ("click→CAPTURED p95 ms", ("to_captured_ms", "p95")),
    ("click→CAPTURED p99 ms", ("to_captured_ms", "p99")),
    ("click→CAPTURED max ms", ("to_captured_ms", "max")),
    ("offered /s", ("throughput_per_s", "offered")),
    ("accepted /s", ("throughput_per_s", "accepted")),
    ("captured /s (first click to last capture)", ("throughput_per_s", "captured")),
    ("captured /s (steady median)", ("throughput_per_s", "captured_steady_median")),
    ("drain s (after the last answer)", ("drain_seconds",)),
    ("drain s (after the outage ended)", ("drain_after_outage_seconds",)),
    ("ledger exactly once", ("ledger", "exactly_once")),
    ("held, never captured", ("ledger", "held_without_capture")),
)


def machine() -> dict[str, Any]:
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(total_kib / 1024**2),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def result_document(config: dict[str, Any], flows: list[FlowResult]) -> dict[str, Any]:
    document: dict[str, Any] = {
        "machine": machine(),
        "config": config,
        "flows": {f.name: {"summary": f.summary(), "timeline": f.timeline()} for f in flows},
    }
    names = document["flows"]
    if "async" in names and "sync" in names:
        document["ratios_sync_over_async"] = {
            label: _ratio(_at(names["sync"]["summary"], path), _at(names["async"]["summary"], path))
            for label, path in ROWS
            if "ms" in label or "/s" in label
        }
    return document


def table(document: dict[str, Any]) -> str:
    """The comparison, then CPU milliseconds per captured payment by process."""
    flows: dict[str, Any] = document["flows"]
    names = list(flows)
    ratio = "sync" in flows and "async" in flows
    header = ["", *names, *(["sync/async"] if ratio else [])]
    rows = [header]
    for label, path in ROWS:
        values = [_at(flows[n]["summary"], path) for n in names]
        if all(v is None for v in values):
            continue
        row = [label, *(_cell(v) for v in values)]
        if ratio:
            row.append(_cell(document["ratios_sync_over_async"].get(label)))
        rows.append(row)
    cpu = {n: flows[n]["summary"].get("cpu_ms_per_captured_payment") or {} for n in names}
    processes = list(dict.fromkeys(p for n in names for p in cpu[n]))
    if processes:
        rows.append(["CPU ms per captured payment", *([""] * (len(header) - 1))])
        for process in processes:
            values = [cpu[n].get(process) for n in names]
            row = [f"  {process}", *("-" if v is None else f"{v:,.2f}" for v in values)]
            if ratio:
                row.append(_cell(_ratio(values[names.index("sync")], values[names.index("async")])))
            rows.append(row)
    return _aligned(rows)


def _aligned(rows: list[list[str]]) -> str:
    header = rows[0]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in rows
    )


def _at(summary: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = summary
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _ratio(sync: Any, asynchronous: Any) -> float | None:
    if not isinstance(sync, int | float) or not isinstance(asynchronous, int | float):
        return None
    if isinstance(sync, bool) or not asynchronous:
        return None
    return round(sync / asynchronous, 2)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def ceiling_document(measured: dict[str, Any], searches: dict[str, Search]) -> dict[str, Any]:
    """The ceiling search's result: each flow's steps and ceiling, both flows' summaries at
    80 % of the async ceiling (`measured`, the result document of that run) and the ratios."""
    at_80 = {name: flow["summary"] for name, flow in measured["flows"].items()}
    return {
        "machine": measured["machine"],
        "config": measured["config"],
        "criteria": {
            "click_to_captured_p99_below_ms": P99_LIMIT_MS,
            "captured_share_of_offered_second_half_at_least": KEEPING_UP,
            "no_failed_requests": True,
        },
        "flows": {name: found.document() for name, found in searches.items()},
        "at_80_percent_of_async_ceiling": {
            name: {
                "rate": measured["config"]["rate"],
                "accept_ms": summary["accept_ms"],
                "to_captured_ms": summary.get("to_captured_ms", {}),
                "throughput_per_s": summary["throughput_per_s"],
                "failed": summary["failed"],
                "cpu_ms_per_captured_payment": summary["cpu_ms_per_captured_payment"],
            }
            for name, summary in at_80.items()
        },
        "ratios": ratios(searches, at_80),
    }


def ceiling_table(found: dict[str, Any]) -> str:
    rows = [["ceiling search", "rate /s", "sustained", "click→CAPTURED p99 ms", "CPU ms/payment"]]
    for name, flow in found["flows"].items():
        for step in flow["steps"]:
            cpu = step["cpu_ms_per_captured_payment"].get("stack")
            rows.append(
                [
                    f"  {name}",
                    _cell(step["rate"]),
                    "yes" if step["sustained"] else f"no: {step['why']}",
                    _cell(step["to_captured_p99_ms"]),
                    _cell(cpu),
                ]
            )
        rows.append([f"{name} ceiling", _cell(flow["ceiling_per_s"]), "", "", ""])
    for label, value in found["ratios"].items():
        rows.append([label.replace("_", " "), _cell(value), "", "", ""])
    return _aligned(rows)
