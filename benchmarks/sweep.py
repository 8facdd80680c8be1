"""Benchmark: a Sobol sweep of the history scenario against the bare engine.

    .venv/bin/python benchmarks/sweep.py                  # ~100,000 runs of 300 months
    .venv/bin/python benchmarks/sweep.py --runs 5000      # scaled down

The sweep is ``scenarios/sweeps/history_sobol.yaml`` with its N set to the power of two that
brings the run count nearest to ``--runs``. Each configuration runs in a fresh process, so peak
memory (``ru_maxrss``) is its own:

- ``engine``: ``model.engine.runner.iter_chunks`` over the same number of runs, with the
  sweep's source of the parameters not swept (``params``: the calibrated posterior by default,
  ``--params default`` for the table's), results discarded: the bare engine's throughput (one
  process; the numba kernel uses every core);
- ``sweep``: ``model.experiments.sweep.run_sweep`` in the driver process (the default,
  ``--workers 1``; every core through numba), outcomes computed and written to Parquet;
- ``pool2``: a local process pool of 2 workers (``--workers 2``), one numba thread each;
- ``dask1``, ``dask2``: a Dask LocalCluster of 1 or 2 single-threaded worker processes
  (``--dask local --workers N``): the speed-up from 1 to 2 workers.

Printed: wall time (start-up included), runs/s, peak memory of the driver and of the largest
worker, throughput relative to the engine (target: the sweep within 2x) and the speed-up from 1
to 2 workers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "scenarios" / "sweeps" / "history_sobol.yaml"
CONFIGS = ("engine", "sweep", "pool2", "dask1", "dask2")


def _samples_for(runs: int) -> int:
    from model.experiments import sweep as S

    sw = S.load_spec(SPEC)
    per_n = sw.runs // sw.samples
    return 2 ** max(1, round(math.log2(max(runs, per_n) / per_n)))


def _one(kind: str, runs: int, chunk: int, out: Path, params: str | None = None) -> dict:
    """One configuration, in this (fresh) process."""
    from model.experiments import sweep as S

    sw = S.load_spec(SPEC, samples=_samples_for(runs), params=params)
    if kind == "engine":
        from model.engine.runner import iter_chunks

        t0 = time.perf_counter()
        n = 0
        for res in iter_chunks(sw.scenario, runs=sw.runs, seed=sw.seed, months=sw.months,
                               chunk=chunk, params=sw.params):
            n += res.runs
        wall = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return {"config": "engine (iter_chunks)", "kind": kind, "runs": n, "wall_s": wall,
                "runs_per_s": n / wall, "driver_mib": rss / 1024, "worker_mib": rss / 1024,
                "disk_mib": 0.0}
    workers, dask = {"sweep": (1, None), "pool2": (2, None), "dask1": (1, "local"),
                     "dask2": (2, "local")}[kind]
    t0 = time.perf_counter()
    rep = S.run_sweep(sw, out, workers=workers, dask=dask, chunk=chunk, progress=False,
                      log=lambda s: None)
    wall = time.perf_counter() - t0
    rows = len(S.load_results(out, columns=["run_id"]))
    assert rows == sw.runs, (rows, sw.runs)
    disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    label = {"sweep": "sweep (in-process)", "pool2": "sweep --workers 2",
             "dask1": "sweep dask x1", "dask2": "sweep dask x2"}[kind]
    return {"config": label, "kind": kind, "runs": rep.computed_runs, "wall_s": wall,
            "runs_per_s": rep.computed_runs / wall,
            "driver_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "worker_mib": max(rep.worker_maxrss_kib.values()) / 1024,
            "disk_mib": disk / 2**20, "samples": sw.samples, "rows": sw.rows,
            "chunks": rep.chunks, "months": sw.months, "params": sw.params}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=100_000, help="target runs (default 100000)")
    ap.add_argument("--chunk", type=int, default=1024, help="runs per chunk (default 1024)")
    ap.add_argument("--configs", default="engine,sweep,pool2,dask1,dask2",
                    help="configurations to time (default engine,sweep,pool2,dask1,dask2)")
    ap.add_argument("--params", choices=("posterior", "default"), default=None,
                    help="parameters not swept (default: the spec's, the calibrated posterior)")
    ap.add_argument("--one", choices=CONFIGS, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        res = _one(args.one, args.runs, args.chunk, Path(args.out), args.params)
        print(json.dumps(res))
        return 0

    plan = [c.strip() for c in args.configs.split(",")]
    bad = [c for c in plan if c not in CONFIGS]
    if bad or "engine" not in plan:
        ap.error(f"--configs: expected 'engine' and any of {', '.join(CONFIGS)}, got {bad}")
    plan.remove("engine")
    plan.insert(0, "engine")
    tmp = Path(tempfile.mkdtemp(prefix="sweep-bench-"))
    rows = []
    try:
        for kind in plan:
            out = tmp / kind
            cmd = [sys.executable, __file__, "--one", kind, "--runs", str(args.runs),
                   "--chunk", str(args.chunk), "--out", str(out),
                   *(["--params", args.params] if args.params else [])]
            print(f"running {kind} ...", file=sys.stderr, flush=True)
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
            if done.returncode:
                print(done.stderr, file=sys.stderr)
                return done.returncode
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    eng = rows[0]
    first = rows[1] if len(rows) > 1 else eng
    print(f"Sobol sweep of {SPEC.relative_to(ROOT)}: N={first['samples']}, {first['rows']:,} "
          f"samples, {first['runs']:,} runs of {first['months']} months, {first['chunks']} "
          f"chunks of {args.chunk}; parameters not swept: {first.get('params', 'default')}; "
          f"{os.cpu_count()} CPU(s)")
    print(f"{'config':22s} {'runs':>9s} {'wall s':>8s} {'runs/s':>9s} {'driver MiB':>11s} "
          f"{'worker MiB':>11s} {'disk MiB':>9s} {'engine/sweep':>13s}")
    for r in rows:
        ratio = eng["runs_per_s"] / r["runs_per_s"]
        print(f"{r['config']:22s} {r['runs']:9,d} {r['wall_s']:8.1f} {r['runs_per_s']:9,.0f} "
              f"{r['driver_mib']:11.0f} {r['worker_mib']:11.0f} {r['disk_mib']:9.1f} "
              f"{ratio:13.2f}")
    by = {r["kind"]: r for r in rows}
    if "sweep" in by:
        ratio = eng["runs_per_s"] / by["sweep"]["runs_per_s"]
        print(f"sweep (in-process) throughput vs bare engine: {ratio:.2f}x slower "
              f"(target <= 2x: {'met' if ratio <= 2 else 'NOT met'})")
    if "dask1" in by and "dask2" in by:
        print(f"speed-up 1 -> 2 workers (dask, single-threaded worker processes): "
              f"{by['dask1']['wall_s'] / by['dask2']['wall_s']:.2f}x")
    peak = max((max(r["driver_mib"], r["worker_mib"]) for r in rows[1:]), default=0.0)
    print(f"peak memory of any sweep process: {peak:.0f} MiB "
          f"(target < 1024: {'met' if peak < 1024 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
