"""Fixtures of the dashboard tests."""

from __future__ import annotations

import pytest

import browser_helpers as B


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium under playwright, one per test module; the test is
    skipped, with the reason, where chromium or playwright is missing."""
    why = B.unavailable()
    if why:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = B.launch(pw)
        yield b
        b.close()
