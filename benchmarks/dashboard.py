"""Dashboard timings under Streamlit's AppTest (no browser): how long a page takes to render.

    python benchmarks/dashboard.py [--repeat 5]

Prints, with the targets:

- the model's import (numba kernels loaded from their cache) in this process, once;
- History page, first render: a new session with empty caches, summed over the first visit of
  each of its four tabs (the timeline; the 100-run history ensemble and the network; its bands
  with the documented events; the history check) — target <= 1 s; the default tab alone is
  printed too;
- History page, cached rerender: the series tab run again — target <= 0.2 s;
- What-if, a 100-run ensemble: pressing "Run the ensemble" with a new seed (the ensemble, its
  bands, the history comparison and the page) — target <= 3 s.

Each figure is the median of ``--repeat`` repetitions (caches cleared before each first render),
after one warm-up repetition that is reported on its own: it also pays for the process's first
use of plotly and of Streamlit's script runner, as the first visitor of a fresh server does.

    python benchmarks/dashboard.py --memory

measures instead what a What-if session at the page's maximum (2,000 runs of 1,200 months, the
history replay shown) keeps once it is done: the process's resident memory (VmRSS) before
pressing "Run the ensemble" and after the page has rendered its results, with a small what-if
run first so that both figures include the code paths' own first-use costs. Target: the
difference stays under ``KEPT_TARGET_MB``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "dashboard" / "app.py")
TARGETS = {"history first render": 1.0, "history cached rerender": 0.2,
           "what-if 100-run ensemble": 3.0}


def _ok(at) -> None:
    if at.exception:
        raise RuntimeError("; ".join(e.value for e in at.exception))


HISTORY_TABS = ("Network of trust", "Trust and aid over time", "History check")
#: Most MB a finished What-if at the page's maximum may keep (what the page shows: bands and
#: tables, not the runs).
KEPT_TARGET_MB = 100.0
MAX_RUNS, MAX_MONTHS = 2000, 1200


def rss_mb() -> float:
    """This process's resident memory in MB (Linux ``/proc/self/status``)."""
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def measure_memory() -> tuple[float, float, float]:
    """(MB before, MB after, seconds) of a What-if at the page's maximum."""
    import gc

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=900)
    at.session_state["wi_runs"] = 20
    at.run()
    at.switch_page("views/whatif.py").run()
    _ok(at)
    at.button(key="wi_run").click().run()            # a small run: every code path once
    _ok(at)
    at.number_input(key="wi_runs").set_value(MAX_RUNS).run()
    months = next(n for n in at.number_input if str(n.key).startswith("wi_months_"))
    months.set_value(MAX_MONTHS).run()
    _ok(at)
    gc.collect()
    before = rss_mb()
    t0 = time.perf_counter()
    at.button(key="wi_run").click().run()
    took = time.perf_counter() - t0
    _ok(at)
    if at.session_state["wi_result"]["runs"] != MAX_RUNS:
        raise RuntimeError("the what-if ran the wrong ensemble")
    at.run()                                         # a rerun after it is done
    _ok(at)
    gc.collect()
    return before, rss_mb(), took


def measure(repeat: int) -> dict[str, list[float]]:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    out: dict[str, list[float]] = {k: [] for k in (*TARGETS, "history first tab only")}
    for k in range(repeat):
        st.cache_data.clear()
        st.cache_resource.clear()
        at = AppTest.from_file(APP, default_timeout=300)
        t0 = time.perf_counter()
        at.run()                                   # the timeline tab (the page's default)
        first_tab = time.perf_counter() - t0
        _ok(at)
        total = first_tab
        for tab in HISTORY_TABS:                   # each tab's first visit: the ensemble,
            at.session_state["hist_tab"] = tab     # its bands, network and history check
            t0 = time.perf_counter()
            at.run()
            total += time.perf_counter() - t0
            _ok(at)
        out["history first tab only"].append(first_tab)
        out["history first render"].append(total)
        t0 = time.perf_counter()
        at.run()                                   # the series tab again, all cached
        out["history cached rerender"].append(time.perf_counter() - t0)
        _ok(at)
        at.switch_page("views/whatif.py").run()
        _ok(at)
        at.number_input(key="wi_seed").set_value(1000 + k)
        at.number_input(key="wi_runs").set_value(100)
        t0 = time.perf_counter()
        at.button(key="wi_run").click().run()
        out["what-if 100-run ensemble"].append(time.perf_counter() - t0)
        _ok(at)
        if at.session_state["wi_result"]["runs"] != 100:
            raise RuntimeError("the what-if ran the wrong ensemble")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="repetitions (median reported)")
    ap.add_argument("--memory", action="store_true",
                    help="measure what a What-if at the page's maximum keeps, instead")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    if args.memory:
        before, after, took = measure_memory()
        kept = after - before
        flag = "ok" if kept <= KEPT_TARGET_MB else "OVER"
        print(f"what-if at {MAX_RUNS} runs x {MAX_MONTHS} months ({took:.1f} s): resident "
              f"memory {before:,.0f} MB before, {after:,.0f} MB after; kept {kept:,.0f} MB   "
              f"target <= {KEPT_TARGET_MB:g} MB   {flag}")
        return 0 if kept <= KEPT_TARGET_MB else 1
    t0 = time.perf_counter()
    import dashboard.core  # noqa: F401
    import model.engine.runner  # noqa: F401  (numba kernels: loaded once per process)
    imports = time.perf_counter() - t0
    # Warm-up: the first simulate of a process loads the compiled kernels.
    from model import simulate

    t0 = time.perf_counter()
    simulate(str(ROOT / "scenarios" / "baseline.yaml"), runs=1, months=2)
    warm = time.perf_counter() - t0
    first = measure(1)
    res = measure(max(1, args.repeat))
    print(f"dashboard timings (AppTest, median of {args.repeat} after one warm-up):")
    print(f"  {'import model + dashboard (once per process)':44s} {imports:7.2f} s")
    print(f"  {'first simulate of the process (kernel load)':44s} {warm:7.2f} s")
    print(f"  {'warm-up: history first render, fresh process':44s} "
          f"{first['history first render'][0]:7.3f} s")
    print(f"  {'history first render, default tab only':44s} "
          f"{statistics.median(res['history first tab only']):7.3f} s")
    worst = 0.0
    for name, target in TARGETS.items():
        med = statistics.median(res[name])
        worst = max(worst, med / target)
        flag = "ok" if med <= target else "OVER"
        print(f"  {name:44s} {med:7.3f} s   target <= {target:g} s   {flag}   "
              f"(min {min(res[name]):.3f}, max {max(res[name]):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
