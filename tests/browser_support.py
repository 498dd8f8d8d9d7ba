"""A real browser for the tests: Debian's Chromium, headless, driven by Playwright, one fresh
context per test, and a screenshot of each test's end state in `test-artifacts/browser/`."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import sync_playwright

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "browser"
# This machine's network is closed: without these, Chromium keeps trying to reach Google's
# services (updates, sync, safe browsing), and each refused connection costs time and log lines.
QUIET_FLAGS = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not found or not Path(found).exists():
        # A failure, not a skip: CI must not pass without running the browser tests.
        pytest.fail(
            "Chromium is needed for the browser tests: run `make browser-tools` (installs "
            "Debian's chromium as root) or set CHROMIUM to its path",
            pytrace=False,
        )
    return found


def artifact(name: str) -> Path:
    """Where a screenshot called `name` goes; the directory is made on first use."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name).strip('-')}.png"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Module-scoped: while Playwright's sync API runs, its event loop is this thread's running
    # loop, and any later test calling `asyncio.run()` would fail; it stops with the module.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium_path(),
            headless=True,
            # Chromium's sandbox refuses to run as root; as any other user it stays on.
            chromium_sandbox=os.geteuid() != 0,
            args=QUIET_FLAGS,
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh browser context (no cookies, no storage) for one test; its end state,
    passed or failed, is saved as `test-artifacts/browser/<test>.png`."""
    context = browser.new_context(locale="en-GB")
    opened = context.new_page()
    try:
        yield opened
    finally:
        if not opened.is_closed():
            opened.screenshot(path=str(artifact(request.node.name)), full_page=True)
        context.close()
