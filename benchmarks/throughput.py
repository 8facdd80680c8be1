"""Benchmark: the batched kernel and the user's call against ``mesa.batch_run`` on one model.

    .venv/bin/python benchmarks/throughput.py          # 10,000 + 20,000 runs x 240 months
    .venv/bin/python benchmarks/throughput.py --runs 2000 --sim-runs 2000 --mesa-runs 5

All run ``scenarios/baseline.yaml`` for ``--months`` months, in this one process:

- ``mesa``: ``mesa.batch_run(AfPakModel, parameters={"months": months}, rng=[0..mesa_runs),
  max_steps=months)``, one Mesa model per seed (the table's default parameters), in Python;
- ``batched``: ``model.engine.runner.iter_chunks`` over ``--runs`` runs with the table's
  defaults (``params="default"``) in chunks of ``--chunk``, each chunk's results dropped once
  yielded (memory stays flat), on numba's threads: the kernel's own speed;
- ``simulate``: the documented call ``model.simulate(scenario, runs=--sim-runs)``, which draws
  each run's parameter set from the shipped posterior and returns every run's arrays in
  memory: the speed a user gets.

All are compiled and warmed up first, so the timings exclude numba's compilation (or loading
its cache); each is timed ``--repeat`` times and the best pass is reported (the machine may be
shared). A run-step is one run advanced by one month. Printed: a table of wall time and
run-steps/s per engine with the ratio to Mesa, the process's peak resident memory
(``ru_maxrss``) after the batched runs and after ``simulate``, the size of ``simulate``'s
arrays, numba's thread count, and the targets (batched >= 2,000,000 run-steps/s and >= 300x
Mesa; simulate >= 3,000,000 run-steps/s and >= 400x Mesa; <= 1 GB for the batched runs).
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


def run_simulate(runs: int, months: int, seed: int) -> tuple[float, int]:
    """Seconds for ``simulate(scenario, runs=runs)`` (the posterior by default) and the bytes
    of the arrays it returns."""
    from model import simulate

    t0 = time.perf_counter()
    res = simulate(SCENARIO, runs=runs, seed=seed, months=months)
    wall = time.perf_counter() - t0
    if res.runs != runs or res.months != months:
        raise RuntimeError(f"simulate returned {res.runs} runs x {res.months} months")
    size = sum(a.nbytes for a in (res.trust, res.aid, res.state, res.actions, res.params))
    return wall, size


def _report(args, rows: list[tuple], peaks: tuple[float, ...], size: int) -> dict:
    """Print the table and the memory lines; return the rates."""
    import numba

    rss_before, peak_batched, rss_sim, peak_sim = peaks
    print(f"scenario {SCENARIO.relative_to(ROOT)}, {args.months} months, chunk {args.chunk}, "
          f"seed {args.seed}, best of {max(1, args.repeat)}")
    print(f"{'engine':<24} {'runs':>7} {'months':>6} {'seconds':>9} {'run-steps/s':>13} "
          f"{'vs mesa':>9}")
    for name, n, wall, rate, ratio in rows:
        print(f"{name:<24} {n:>7} {args.months:>6} {wall:>9.3f} {rate:>13,.0f} {ratio:>8.0f}x")
    print(f"peak memory (ru_maxrss): {peak_batched:,.0f} MB after the batched runs (resident "
          f"before them: {rss_before:,.0f} MB); {peak_sim:,.0f} MB after simulate (resident "
          f"before it: {rss_sim:,.0f} MB; its arrays: {size / 2**20:,.0f} MB)")
    print(f"numba threads: {numba.get_num_threads()} (threading layer "
          f"{numba.threading_layer()})")
    return {name: rate for name, _n, _w, rate, _r in rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10_000, help="runs of the batched engine")
    ap.add_argument("--sim-runs", type=int, default=20_000, help="runs of simulate()")
    ap.add_argument("--months", type=int, default=240, help="months per run (both engines)")
    ap.add_argument("--mesa-runs", type=int, default=20, help="runs (seeds) of mesa.batch_run")
    ap.add_argument("--chunk", type=int, default=1024, help="runs per chunk of the batched engine")
    ap.add_argument("--seed", type=int, default=0, help="master seed of the batched engine")
    ap.add_argument("--repeat", type=int, default=3, help="timed passes per engine (best kept)")
    args = ap.parse_args(argv)

    from model.adapters.mesa_model import DEFAULT_SCENARIO

    if DEFAULT_SCENARIO.resolve() != SCENARIO.resolve():
        raise RuntimeError(f"AfPakModel's default scenario {DEFAULT_SCENARIO} is not {SCENARIO}")

    # Warm-up: compile (or load from numba's cache) everything the engines call.
    run_mesa(1, min(args.months, 12))
    run_batched(min(args.runs, 64), args.months, args.chunk, args.seed)
    run_simulate(min(args.sim_runs, 64), args.months, args.seed)

    repeat = max(1, args.repeat)
    mesa_s = min(run_mesa(args.mesa_runs, args.months) for _ in range(repeat))
    rss_before = _rss_mb()
    batched_s = min(run_batched(args.runs, args.months, args.chunk, args.seed)
                    for _ in range(repeat))
    peak_batched = _peak_rss_mb()
    rss_sim = _rss_mb()
    sim = [run_simulate(args.sim_runs, args.months, args.seed) for _ in range(repeat)]
    sim_s, size = min(w for w, _ in sim), sim[0][1]
    peak_sim = _peak_rss_mb()

    mesa_rate = args.mesa_runs * args.months / mesa_s
    rows = [("mesa.batch_run", args.mesa_runs, mesa_s, mesa_rate, 1.0)]
    for name, n, wall in (("batched (iter_chunks)", args.runs, batched_s),
                          ("simulate (posterior)", args.sim_runs, sim_s)):
        rate = n * args.months / wall
        rows.append((name, n, wall, rate, rate / mesa_rate))
    rates = _report(args, rows, (rss_before, peak_batched, rss_sim, peak_sim), size)
    batched_rate, sim_rate = rates["batched (iter_chunks)"], rates["simulate (posterior)"]
    ok = {"batched >= 2,000,000 run-steps/s": batched_rate >= 2e6,
          "batched >= 300x mesa": batched_rate >= 300 * mesa_rate,
          "batched <= 1 GB": peak_batched <= 1024,
          "simulate >= 3,000,000 run-steps/s": sim_rate >= 3e6,
          "simulate >= 400x mesa": sim_rate >= 400 * mesa_rate}
    print("targets: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in ok.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
