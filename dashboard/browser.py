"""Driving the dashboard in a real browser: a local Streamlit server and Debian's Chromium.

Used by the browser test (``tests/browser/``) and by ``scripts/screenshots``. Playwright drives
the system's ``/usr/bin/chromium`` (installed by ``scripts/setup-browser``); ``playwright
install`` is never needed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "dashboard" / "app.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]
#: The page paths of ``dashboard/app.py`` and a text each page shows once it has rendered.
PAGES = {
    "": "History, 1998–2022",
    "what-if": "What-if",
    "compare": "Compare two scenarios",
    "sweeps": "Sweeps",
    "classroom": "Classroom",
    "about": "About the model",
}


def chromium_path() -> str | None:
    """The Chromium binary to drive, or None when it is not installed."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    return shutil.which("chromium")


def free_port() -> int:
    """A TCP port that is free on localhost right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Poll ``/_stcore/health`` until the server says ok; raise if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out = proc.stdout.read() if proc.stdout else ""
            raise RuntimeError(f"streamlit exited with code {proc.returncode}:\n{out}")
        with contextlib.suppress(OSError), \
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            if r.read().decode().strip() == "ok":
                return
        time.sleep(0.25)
    raise TimeoutError(f"streamlit at {url} not healthy after {timeout:.0f} s")


@contextlib.contextmanager
def serve(port: int | None = None, timeout: float = 60.0,
          address: str = "127.0.0.1") -> Iterator[str]:
    """Run ``streamlit run dashboard/app.py`` listening on ``address`` (``0.0.0.0``: every
    interface, as ``scripts/run`` serves a classroom); yield its local URL; always stop it."""
    port = port or free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.headless", "true",
           "--server.port", str(port), "--server.address", address,
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--theme.base", "light"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc, timeout)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def launch(playwright, executable: str | None = None):
    """Launch headless Chromium with the flags that work as root in a container."""
    return playwright.chromium.launch(executable_path=executable or chromium_path(),
                                      headless=True, args=CHROMIUM_ARGS)


def wait_rendered(page, timeout: float = 90_000) -> None:
    """Wait until Streamlit has finished running the page script: its status widget (the
    running man and 'Stop') is gone and no element is stale."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout)
    page.wait_for_timeout(250)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " && !document.querySelector('[data-stale=\"true\"]')", timeout=timeout)
    page.wait_for_timeout(250)
