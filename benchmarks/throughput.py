"""Benchmark: the batched kernel against ``mesa.batch_run`` on the same model.

    .venv/bin/python benchmarks/throughput.py                   # 10,000 runs x 240 months
    .venv/bin/python benchmarks/throughput.py --runs 2000 --mesa-runs 5

Both engines run ``scenarios/baseline.yaml`` with its default parameters for ``--months``
months, in this one process:

- ``mesa``: ``mesa.batch_run(AfPakModel, parameters={"months": months}, rng=[0..mesa_runs),
  max_steps=months)``, one Mesa model per seed, stepped in Python;
- ``batched``: ``model.engine.runner.iter_chunks`` over ``--runs`` runs in chunks of ``--chunk``,
  each chunk's results dropped once yielded (memory stays flat), on numba's threads.

Both are compiled and warmed up first, so the timings exclude numba's compilation (or loading
its cache); each is timed ``--repeat`` times and the best pass is reported (the machine may be
shared). A run-step is one run advanced by one month. Printed: a table of wall time and
run-steps/s per engine with the batched/Mesa ratio, the process's peak resident memory
(``ru_maxrss``), numba's thread count, and the targets (>= 2,000,000 run-steps/s, >= 300x
Mesa, <= 1 GB).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "baseline.yaml"


def _rss_mb() -> float:
    """Current resident memory of this process in MB (Linux ``/proc``; 0 where unavailable)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0
    return pages * resource.getpagesize() / 2**20


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far in MB (``ru_maxrss`` is in KiB on Linux)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / 2**20


def run_mesa(runs: int, months: int) -> float:
    """Seconds for ``mesa.batch_run`` over seeds 0..runs-1."""
    import mesa

    from model.adapters.mesa_model import AfPakModel

    t0 = time.perf_counter()
    out = mesa.batch_run(AfPakModel, parameters={"months": months}, rng=list(range(runs)),
                         max_steps=months, display_progress=False)
    wall = time.perf_counter() - t0
    if len({row["RunId"] for row in out}) != runs or any(row["Step"] != months for row in out):
        raise RuntimeError(f"mesa.batch_run did not run {runs} seeds for {months} steps")
    return wall


def run_batched(runs: int, months: int, chunk: int, seed: int) -> float:
    """Seconds for the batched engine over ``runs`` runs, consumed chunk by chunk."""
    from model.engine.runner import iter_chunks

    t0 = time.perf_counter()
    done = 0
    for res in iter_chunks(SCENARIO, runs=runs, seed=seed, months=months, chunk=chunk,
                           params="default"):
        done += res.runs  # the chunk is dropped here: nothing accumulates
    wall = time.perf_counter() - t0
    if done != runs:
        raise RuntimeError(f"iter_chunks yielded {done} runs, expected {runs}")
    return wall


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10_000, help="runs of the batched engine")
    ap.add_argument("--months", type=int, default=240, help="months per run (both engines)")
    ap.add_argument("--mesa-runs", type=int, default=20, help="runs (seeds) of mesa.batch_run")
    ap.add_argument("--chunk", type=int, default=1024, help="runs per chunk of the batched engine")
    ap.add_argument("--seed", type=int, default=0, help="master seed of the batched engine")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per engine (best kept)")
    args = ap.parse_args(argv)

    import numba

    from model.adapters.mesa_model import DEFAULT_SCENARIO

    if DEFAULT_SCENARIO.resolve() != SCENARIO.resolve():
        raise RuntimeError(f"AfPakModel's default scenario {DEFAULT_SCENARIO} is not {SCENARIO}")

    # Warm-up: compile (or load from numba's cache) everything both engines call.
    run_mesa(1, min(args.months, 12))
    run_batched(min(args.runs, 64), args.months, args.chunk, args.seed)

    repeat = max(1, args.repeat)
    mesa_s = min(run_mesa(args.mesa_runs, args.months) for _ in range(repeat))
    rss_before = _rss_mb()
    batched_s = min(run_batched(args.runs, args.months, args.chunk, args.seed)
                    for _ in range(repeat))
    peak = _peak_rss_mb()

    mesa_rate = args.mesa_runs * args.months / mesa_s
    batched_rate = args.runs * args.months / batched_s
    rows = [("mesa.batch_run", args.mesa_runs, mesa_s, mesa_rate, 1.0),
            ("batched (iter_chunks)", args.runs, batched_s, batched_rate, batched_rate / mesa_rate)]
    print(f"scenario {SCENARIO.relative_to(ROOT)}, {args.months} months, chunk {args.chunk}, "
          f"seed {args.seed}, best of {repeat}")
    print(f"{'engine':<22} {'runs':>7} {'months':>6} {'seconds':>9} {'run-steps/s':>13} "
          f"{'vs mesa':>9}")
    for name, n, wall, rate, ratio in rows:
        print(f"{name:<22} {n:>7} {args.months:>6} {wall:>9.3f} {rate:>13,.0f} {ratio:>8.0f}x")
    print(f"peak memory (ru_maxrss): {peak:,.0f} MB (resident before the batched run: "
          f"{rss_before:,.0f} MB)")
    print(f"numba threads: {numba.get_num_threads()} (threading layer "
          f"{numba.threading_layer()})")
    ok = {">= 2,000,000 run-steps/s": batched_rate >= 2e6,
          ">= 300x mesa": batched_rate >= 300 * mesa_rate, "<= 1 GB": peak <= 1024}
    print("targets: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in ok.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
