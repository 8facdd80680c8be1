"""Screenshots of every page into ``docs/img/`` (run by ``scripts/screenshots``).

Starts the dashboard on a free local port, drives Debian's Chromium at 1280x800, puts each page
into a telling state (an ensemble run, a committed prediction ...) and saves one PNG per page,
re-quantised to a palette when it would exceed the size limit.
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from dashboard import browser

OUT = browser.ROOT / "docs" / "img"
MAX_BYTES = 300_000
VIEWPORT = {"width": 1280, "height": 800}


def save(png: bytes, path: Path) -> int:
    """Write a PNG, shrunk to a 256-colour palette if it is over ``MAX_BYTES``."""
    if len(png) > MAX_BYTES:
        from PIL import Image

        img = Image.open(io.BytesIO(png)).convert("RGB")
        for colours in (256, 128, 64):
            buf = io.BytesIO()
            img.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(
                buf, format="PNG", optimize=True)
            png = buf.getvalue()
            if len(png) <= MAX_BYTES:
                break
    path.write_bytes(png)
    return len(png)


def goto(page, url: str, heading: str) -> None:
    page.goto(url)
    page.get_by_role("heading", name=heading).first.wait_for(timeout=90_000)
    browser.wait_rendered(page)


def scroll_to(page, text: str) -> None:
    """Scroll so that the first element showing ``text`` is at the top of the window."""
    page.get_by_text(text, exact=False).first.evaluate(
        "e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(500)


def shoot(page, path: Path) -> None:
    page.wait_for_timeout(800)
    n = save(page.screenshot(), path)
    print(f"{path.relative_to(browser.ROOT)}: {n / 1000:.0f} kB")  # noqa: T201


def _history(page, url: str, out: Path) -> None:
    """History: the timeline, then the network at a month of 2011."""
    goto(page, url, browser.PAGES[""])
    shoot(page, out / "history.png")
    scroll_to(page, "documented events. Hover")
    shoot(page, out / "history-timeline.png")
    page.get_by_role("tab", name="Network of trust").click()
    page.get_by_text("Months per step").wait_for()
    browser.wait_rendered(page)
    scroll_to(page, "median of 100 runs")
    shoot(page, out / "history-network.png")
    page.get_by_role("tab", name="Trust and aid over time").click()
    browser.wait_rendered(page)
    page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
    scroll_to(page, "Mark documented events")
    shoot(page, out / "history-series.png")


def _whatif(page, url: str, out: Path) -> None:
    """What-if: run the default ensemble."""
    goto(page, f"{url}/what-if", browser.PAGES["what-if"])
    page.get_by_role("button", name="Run the ensemble").click()
    page.get_by_text("Results:").first.wait_for(timeout=90_000)
    browser.wait_rendered(page)
    shoot(page, out / "what-if.png")
    scroll_to(page, "Results:")
    shoot(page, out / "what-if-results.png")


def _compare(page, url: str, out: Path) -> None:
    """Compare: history vs baseline."""
    goto(page, f"{url}/compare", browser.PAGES["compare"])
    page.get_by_role("button", name="Compare", exact=True).click()
    page.get_by_text("same seeds").first.wait_for(timeout=90_000)
    browser.wait_rendered(page)
    scroll_to(page, "runs each, same seeds")
    shoot(page, out / "compare.png")
    scroll_to(page, "Chance of each outcome")
    shoot(page, out / "compare-outcomes.png")


def _sweeps(page, url: str, out: Path) -> None:
    """Sweeps: a small sweep run here."""
    goto(page, f"{url}/sweeps", browser.PAGES["sweeps"])
    page.get_by_test_id("stRadioGroup").get_by_text("run a small sweep here").click()
    browser.wait_rendered(page)
    page.get_by_role("button", name="Run the sweep").click()
    page.get_by_text("Sensitivity of").first.wait_for(timeout=120_000)
    browser.wait_rendered(page)
    scroll_to(page, "via model.experiments.sweep")
    shoot(page, out / "sweeps.png")


def _classroom(page, url: str, out: Path) -> None:
    """Classroom: commit a prediction in the first lesson."""
    goto(page, f"{url}/classroom", browser.PAGES["classroom"])
    page.get_by_role("button", name="Commit my prediction").click()
    page.get_by_text("What the model says").first.wait_for(timeout=90_000)
    browser.wait_rendered(page)
    scroll_to(page, "What the model says")
    shoot(page, out / "classroom.png")
    page.get_by_role("tab", name="Play as an actor").click()
    page.get_by_role("button", name="Start the game").click()
    page.get_by_role("button", name="Commit this move").wait_for(timeout=60_000)
    browser.wait_rendered(page)
    scroll_to(page, "Playing PAK_MIL")
    shoot(page, out / "classroom-play.png")


def _about(page, url: str, out: Path) -> None:
    """About: the ODD."""
    goto(page, f"{url}/about", browser.PAGES["about"])
    shoot(page, out / "about.png")


def run(out: Path) -> None:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    with browser.serve() as url, sync_playwright() as p:
        b = browser.launch(p)
        page = b.new_page(viewport=VIEWPORT)
        for step in (_history, _whatif, _compare, _sweeps, _classroom, _about):
            step(page, url, out)
        b.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT, help="folder for the PNG files")
    args = ap.parse_args(argv)
    if browser.chromium_path() is None:
        print("screenshots: no Chromium at /usr/bin/chromium; run scripts/setup-browser",  # noqa: T201
              file=sys.stderr)
        return 1
    run(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
