"""The networked classroom in a real browser: a teacher and three students, each in their own
Playwright context (Debian's Chromium), against one ``streamlit run dashboard/app.py``.

Runs a short lesson (join by the URL's code, predict, reveal) and two months of a team game
(votes, an automatic advance when every team has voted, an advance by the teacher). Saves
screenshots of the console and of a 360-px student view under ``out/screenshots/``. Without
Chromium it skips locally and fails under CI, as ``tests/browser/test_browser.py`` does.
"""

from __future__ import annotations

import os
import re
import time

import pytest

from dashboard import browser
from dashboard.classroom import net
from model.io.paths import ROOT

IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
SHOTS = ROOT / "out" / "screenshots"
PHONE = {"width": 360, "height": 1100}


def _unavailable(why: str) -> None:
    msg = f"{why}. Install Debian's Chromium with `bash scripts/setup-browser`."
    if IN_CI:
        pytest.fail(f"CI is set and the browser test cannot run: {msg}", pytrace=False)
    pytest.skip(msg)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    exe = browser.chromium_path()
    if exe is None:
        _unavailable("Chromium is not installed")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("the playwright Python package is not installed")
    old = {k: os.environ.get(k) for k in ("AFPAK_CLASSROOM_DIR", "AFPAK_CLASSROOM_POLL")}
    os.environ["AFPAK_CLASSROOM_DIR"] = str(tmp_path_factory.mktemp("classroom"))
    os.environ["AFPAK_CLASSROOM_POLL"] = "1"
    try:
        with browser.serve(address="0.0.0.0") as url:     # as scripts/run: every interface
            yield url, exe
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _watch(pg) -> None:
    pg.problems = []
    pg.on("pageerror", lambda e: pg.problems.append(f"page error: {e}"))


def _ok(*pages) -> None:
    for pg in pages:
        shown = pg.locator("[data-testid='stException']")
        assert shown.count() == 0, shown.first.inner_text()
        assert not pg.problems, pg.problems


def _code(teacher) -> str:
    head = teacher.get_by_role("heading", name=re.compile("Join code")).first
    head.wait_for(timeout=90_000)
    return re.search(r"Join code:\s*([A-Z0-9]{6})", head.inner_text()).group(1)


def _lan_url(teacher) -> str:
    """The join URL the console shows (and encodes in its QR code): this machine's LAN
    address, as a phone on the same network opens it."""
    text = teacher.get_by_text("Students open").first.inner_text()
    return re.search(r"(http://\S+/join\?code=[A-Z0-9]{6})", text).group(1)


def _join_by_lan(teacher, pg, code: str, name: str) -> None:
    """A student comes by the URL of the console's QR code, on the server's LAN address (the
    server listens on every interface, as ``scripts/run`` serves it)."""
    lan = _lan_url(teacher)
    assert lan.endswith(f"/join?code={code}")
    assert net.lan_address() in lan
    pg.goto(lan)
    pg.get_by_role("textbox", name="Your name").wait_for(timeout=90_000)
    browser.wait_rendered(pg)
    assert pg.get_by_role("textbox", name="Join code").input_value() == code
    pg.get_by_role("textbox", name="Your name").fill(name)
    pg.get_by_role("button", name="Join", exact=True).click()


def _press(pg, button: str, then: str) -> None:
    """Press a student's button once it is drawn, and wait for the page's confirmation."""
    pg.get_by_role("button", name=button).wait_for(timeout=120_000)
    browser.wait_rendered(pg)
    pg.get_by_role("button", name=button).click()
    pg.get_by_text(then).wait_for(timeout=60_000)


def _join(pg, url: str, code: str, name: str) -> None:
    pg.goto(f"{url}/join?code={code}")
    pg.get_by_role("textbox", name="Your name").wait_for(timeout=90_000)
    browser.wait_rendered(pg)
    pg.get_by_role("textbox", name="Your name").fill(name)
    pg.get_by_role("button", name="Join", exact=True).click()


def _start(teacher, url: str, game: bool) -> str:
    teacher.goto(f"{url}/classroom")
    teacher.get_by_role("tab", name="Live session").wait_for(timeout=90_000)
    teacher.get_by_role("tab", name="Live session").click()
    teacher.get_by_role("button", name="Start the session").wait_for(timeout=90_000)
    browser.wait_rendered(teacher)
    if game:
        teacher.get_by_text("a team game").click()
        browser.wait_rendered(teacher)
    teacher.get_by_role("button", name="Start the session").click()
    return _code(teacher)


def test_a_lesson_and_two_game_months(server):
    from playwright.sync_api import sync_playwright

    url, exe = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = browser.launch(p, exe)
        teacher = b.new_context(viewport={"width": 1280, "height": 1300}).new_page()
        students = [b.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
                    for _ in range(3)]
        for pg in (teacher, *students):
            _watch(pg)
        # ------------------------------------------------------------------ a lesson
        code = _start(teacher, url, game=False)
        _join_by_lan(teacher, students[0], code, "Student A")
        for i, pg in enumerate(students[1:], start=1):
            _join(pg, url, code, f"Student {'ABC'[i]}")
        for pg in students:
            _press(pg, "Submit my prediction", "Your prediction:")
        teacher.get_by_text("3 joined · 3 answered").wait_for(timeout=60_000)
        browser.wait_rendered(teacher)
        teacher.screenshot(path=str(SHOTS / "classroom-console-lesson.png"))
        teacher.get_by_role("button", name="Reveal").click()
        t0 = time.perf_counter()
        for pg in students:
            pg.get_by_role("heading", name="The reveal").wait_for(timeout=90_000)
        reveal_s = time.perf_counter() - t0
        students[0].locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        browser.wait_rendered(students[0])
        students[0].screenshot(path=str(SHOTS / "classroom-student-reveal-360.png"))
        _ok(teacher, *students)
        # -------------------------------------------------------------- a team game
        teacher.get_by_role("button", name="Leave the console").click()
        code = _start(teacher, url, game=True)
        _join_by_lan(teacher, students[0], code, "Player A")
        for i, pg in enumerate(students[1:], start=1):
            _join(pg, url, code, f"Player {'ABC'[i]}")
        for pg in students:                        # month 1: everyone votes, it advances
            _press(pg, "Send my vote", "Your vote:")
        for pg in students:
            pg.get_by_text("1 of 12 months played").wait_for(timeout=120_000)
        students[1].get_by_role("button", name="Send my vote").wait_for(timeout=120_000)
        browser.wait_rendered(students[1])
        students[1].get_by_role("button", name="Send my vote").click()   # month 2: one vote
        students[1].get_by_text("Your vote:").wait_for(timeout=60_000)
        teacher.get_by_role("button", name="Advance the month").click()
        t0 = time.perf_counter()
        for pg in students:
            pg.get_by_text("2 of 12 months played").wait_for(timeout=120_000)
        advance_s = time.perf_counter() - t0
        teacher.get_by_text("month 2 of 12").wait_for(timeout=60_000)
        for pg in (teacher, students[0]):
            pg.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            browser.wait_rendered(pg)
        teacher.screenshot(path=str(SHOTS / "classroom-console-game.png"))
        students[0].screenshot(path=str(SHOTS / "classroom-student-game-360.png"))
        # month 2: one team voted, the other did not; the model played it and says so
        assert students[0].get_by_text("did not move in time").count() >= 1
        _ok(teacher, *students)
        b.close()
    print(f"\nreveal -> 3 devices: {reveal_s:.2f} s; advance -> 3 devices: {advance_s:.2f} s")
