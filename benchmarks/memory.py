"""Benchmark: `run`'s peak memory does not grow with the number of runs (issue 15).

    .venv/bin/python benchmarks/memory.py                      # 2,000 vs 20,000 runs
    .venv/bin/python benchmarks/memory.py --runs 1000 5000 --no-out

Each measurement is one fresh process, ``python -m model run SCENARIO --runs N`` (without and
with ``--out`` to a Parquet file in a temporary folder), and its peak resident memory is the
child's ``ru_maxrss`` (``resource.getrusage(RUSAGE_CHILDREN)`` read before and after: the
peak of the largest child so far, so each measurement runs in its own helper process). Printed:
a table of runs, --out or not, peak MB and seconds, the ratio of the largest to the smallest
run count's peak for each mode, and the target (within 10%). Exit status 1 when a ratio misses
it.

`run` streams: each chunk's results are summarised (one float per run and quantity) and, with
``--out``, written block by block, then dropped; glibc's allocator is held at a fixed mmap
threshold so that the heap does not fragment over many chunks (``model.cli.limits``).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "history.yaml"
TARGET = 1.10


def _child(argv: list[str]) -> None:
    """In a helper process: run the command and print its peak memory (MB) and time."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "model", *argv], cwd=ROOT, capture_output=True,
                       text=True, check=False)
    if r.returncode != 0:
        sys.stderr.write(r.stderr)
        sys.exit(r.returncode)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KB on Linux
    print(f"{peak:.1f} {time.perf_counter() - t0:.1f}")


def measure(runs: int, out: bool, scenario: Path) -> tuple[float, float]:
    """(peak MB, seconds) of ``run --runs runs`` (with ``--out`` when ``out``) in a fresh
    process."""
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["run", str(scenario), "--runs", str(runs)]
        if out:
            argv += ["--out", str(Path(tmp) / "runs.parquet")]
        r = subprocess.run([sys.executable, __file__, "--child", *argv], capture_output=True,
                           text=True, check=True)
    peak, secs = r.stdout.split()
    return float(peak), float(secs)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        _child(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, nargs="+", default=[2000, 20000])
    ap.add_argument("--scenario", type=Path, default=SCENARIO)
    ap.add_argument("--no-out", action="store_true", help="only without --out")
    ap.add_argument("--only-out", action="store_true", help="only with --out")
    args = ap.parse_args()
    modes = [m for m in (False, True) if not (m and args.no_out) and not (not m and args.only_out)]
    print(f"scenario {args.scenario.name}; peak resident memory of `python -m model run`")
    print(f"{'runs':>8s} {'--out':>6s} {'peak MB':>9s} {'seconds':>8s}")
    ok = True
    for out in modes:
        peaks = []
        for n in args.runs:
            peak, secs = measure(n, out, args.scenario)
            peaks.append(peak)
            print(f"{n:8,d} {'yes' if out else 'no':>6s} {peak:9.0f} {secs:8.1f}", flush=True)
        ratio = max(peaks) / min(peaks)
        ok &= ratio <= TARGET
        print(f"{'':8s} {'':6s} largest/smallest peak {ratio:.3f} (target <= {TARGET:.2f}: "
              f"{'met' if ratio <= TARGET else 'MISSED'})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
