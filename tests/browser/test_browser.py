"""The dashboard in a real browser: Debian's Chromium driven by Playwright against
``streamlit run dashboard/app.py`` on localhost.

Loads every page, runs a what-if ensemble, uploads a broken scenario, and plays one classroom
lesson, checking that no page shows an exception and that the browser logs no error and asks
for nothing outside localhost. Chromium comes from ``bash scripts/setup-browser``; without it
the tests skip locally and FAIL when the environment variable CI is set.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from dashboard import browser

IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
#: Opened at a page's own address (e.g. /about), Streamlit's front end first probes these under
#: the page's path, gets 404, and falls back to the root: expected, not a fault.
PROBES = ("/_stcore/health", "/_stcore/host-config")


def _unavailable(why: str) -> None:
    msg = (f"{why}. Install Debian's Chromium with `bash scripts/setup-browser` "
           "(apt-get install chromium); the browser test drives /usr/bin/chromium.")
    if IN_CI:
        pytest.fail(f"CI is set and the browser test cannot run: {msg}", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def chromium() -> str:
    path = browser.chromium_path()
    if path is None:
        _unavailable("Chromium is not installed (no /usr/bin/chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    return path


@pytest.fixture(scope="module")
def server(chromium):
    with browser.serve() as url:
        yield url


@pytest.fixture(scope="module")
def session(server, chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = browser.launch(p, chromium)
        yield b
        b.close()


@pytest.fixture
def page(session, server):
    """A fresh browser tab at 1280x800 that records errors and requests outside localhost."""
    ctx = session.new_context(viewport={"width": 1280, "height": 800})
    pg = ctx.new_page()
    pg.problems = []
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))
    # "Failed to load resource" messages are checked through the responses below instead.
    pg.on("console", lambda m: pg.problems.append(f"console {m.type}: {m.text}")
          if m.type == "error" and not m.text.startswith("Failed to load resource") else None)
    pg.on("request", lambda r: None if r.url.startswith((server, "data:", "blob:"))
          else pg.problems.append(f"request outside localhost: {r.url}"))
    pg.on("requestfailed", lambda r: pg.problems.append(f"failed request: {r.url}"))
    pg.on("response", lambda r: pg.problems.append(f"HTTP {r.status}: {r.url}")
          if r.status >= 400 and not r.url.endswith(PROBES) else None)
    yield pg
    ctx.close()


def open_page(pg, url: str, heading: str) -> None:
    pg.goto(url)
    pg.get_by_role("heading", name=heading).first.wait_for(timeout=90_000)
    browser.wait_rendered(pg)


def no_exception(pg) -> None:
    shown = pg.locator("[data-testid='stException']")
    assert shown.count() == 0, shown.first.inner_text()
    assert not pg.problems, pg.problems


@pytest.mark.parametrize(("path", "heading"), list(browser.PAGES.items()))
def test_every_page_loads(page, server, path, heading):
    open_page(page, f"{server}/{path}", heading)
    no_exception(page)
    assert page.get_by_role("link", name="Classroom").count() >= 1     # the navigation


def test_sidebar_navigation_and_history_tabs(page, server):
    open_page(page, server, browser.PAGES[""])
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)      # the timeline
    for tab in ("Network of trust", "Trust and aid over time", "History check"):
        page.get_by_role("tab", name=tab).click()
        browser.wait_rendered(page)
        no_exception(page)
        if tab == "Network of trust":
            # The play button steps the month slider on its own (a fragment rerun).
            page.get_by_role("button", name="Play").click()
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-testid=\"stSliderThumbValue\"]')]"
                ".some(e => e.innerText.trim() > '2011-06')", timeout=30_000)
            page.get_by_role("button", name="Pause").click()
            browser.wait_rendered(page)
    assert page.get_by_text("Documented decisions reproduced").count() == 1
    page.get_by_role("link", name="About").click()
    page.get_by_role("heading", name="About the model").wait_for(timeout=60_000)
    no_exception(page)


def test_whatif_runs_an_ensemble(page, server):
    open_page(page, f"{server}/what-if", browser.PAGES["what-if"])
    page.get_by_role("button", name="Run the ensemble").click()
    page.get_by_text("Results:").first.wait_for(timeout=90_000)
    browser.wait_rendered(page)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    assert page.get_by_text("agree in every month they share").count() == 1
    assert page.get_by_role("button", name="All runs (Parquet)").count() == 1
    no_exception(page)


def test_whatif_refuses_a_broken_upload(page, server, tmp_path: Path):
    bad = tmp_path / "broken.yaml"
    bad.write_text("name: x\nmonthz: 12\n", encoding="utf-8")
    open_page(page, f"{server}/what-if", browser.PAGES["what-if"])
    page.get_by_text("a scenario file").click()
    browser.wait_rendered(page)
    page.locator("input[type='file']").set_input_files(str(bad))
    page.get_by_text("is not a runnable scenario").wait_for(timeout=60_000)
    browser.wait_rendered(page)
    shown = page.locator("[data-testid='stAlert']").first.inner_text()
    assert "broken.yaml:2:" in shown
    assert "unknown key 'monthz'" in shown
    no_exception(page)


def test_classroom_lesson_can_be_played(page, server):
    open_page(page, f"{server}/classroom", browser.PAGES["classroom"])
    page.get_by_role("button", name="Commit my prediction").click()
    page.get_by_role("heading", name="What the model says").wait_for(timeout=90_000)
    page.get_by_role("heading", name="What happened").wait_for(timeout=60_000)
    browser.wait_rendered(page)
    assert page.get_by_text("Prediction committed").count() == 1
    page.locator(".js-plotly-plot").nth(1).wait_for(timeout=60_000)   # reveal and bands
    no_exception(page)


def test_missing_chromium_fails_under_ci_and_skips_locally(monkeypatch):
    """The guard itself: under CI a missing browser is a failure, never a skip."""
    monkeypatch.setattr(sys.modules[__name__], "IN_CI", True)
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        _unavailable("Chromium is not installed")
    monkeypatch.setattr(sys.modules[__name__], "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        _unavailable("Chromium is not installed")
