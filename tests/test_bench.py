"""`payctl bench` end to end, small: both flows on a fresh stack of its own, with the provider
down for two seconds in the middle of each. The asynchronous flow accepts every payment and
captures each once the provider is back; the synchronous one fails the shoppers who came during
the outage."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner

from payctl.cli import main

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.e2e


def test_bench_compares_both_flows_through_a_provider_outage(tmp_path: Path) -> None:
    out = tmp_path / "result"
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "--rate", "10",
            "--duration", "4",
            "--provider-latency-ms", "20",
            "--outage", "2",
            "--seed", "11",
            "--no-progress",
            "--out", str(out),
            "--data-dir", str(tmp_path / "stack"),
            "--drain-timeout", "120",
        ],
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    document = json.loads((out / "result.json").read_text())
    asynchronous = document["flows"]["async"]["summary"]
    synchronous = document["flows"]["sync"]["summary"]
    assert asynchronous["requests"] == synchronous["requests"] == 40
    # This design takes every payment while the provider is down, and finishes each later.
    assert asynchronous["accepted"] == asynchronous["completed"] == 40
    assert asynchronous["failed"] == 0
    assert asynchronous["ledger"]["exactly_once"], asynchronous["ledger"]
    assert asynchronous["to_captured_ms"]["count"] == 40
    assert asynchronous["to_order_confirmed_ms"]["count"] == 40
    # The synchronous checkout has nothing to fall back on.
    assert synchronous["errors"].get("provider_unavailable", 0) > 0
    assert synchronous["completed"] == synchronous["accepted"] < 40
    assert synchronous["ledger"]["exactly_once"], synchronous["ledger"]
    assert "ratios_sync_over_async" in document
    assert (out / "result.png").read_bytes()[:4] == b"\x89PNG"
    assert "click→CAPTURED p99 ms" in result.output
