"""Golden check: the numbers of every shipped scenario, to compare across refactors.

    uv run python scripts/golden.py save out/golden-before.npz
    uv run python scripts/golden.py check out/golden-before.npz

Runs every ``scenarios/*.yaml`` (a few runs, seed 7) with the shipped posterior and with the
table's defaults and stores trust, aid, state and actions. ``check`` recomputes them and reports
every array that differs (float arrays compared at the precision they are stored in now).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from model import simulate

ROOT = Path(__file__).resolve().parents[1]
RUNS, SEED = 6, 7
FIELDS = ("trust", "aid", "state", "actions")


def compute() -> dict[str, np.ndarray]:
    out = {}
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        for params in (None, "default"):
            res = simulate(path, runs=RUNS, seed=SEED, params=params)
            for f in FIELDS:
                out[f"{path.stem}/{params or 'posterior'}/{f}"] = np.asarray(getattr(res, f))
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("save", "check"):
        print(__doc__)
        return 2
    cmd, file = argv
    now = compute()
    if cmd == "save":
        Path(file).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(file, **now)
        print(f"saved {len(now)} arrays to {file}")
        return 0
    old = dict(np.load(file))
    bad = []
    for key in sorted(set(old) | set(now)):
        if key not in old or key not in now:
            bad.append(f"{key}: missing on one side")
            continue
        a, b = old[key], now[key]
        if a.shape != b.shape:
            bad.append(f"{key}: shape {a.shape} vs {b.shape}")
        elif not np.array_equal(a.astype(b.dtype), b):
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64)).max()
            bad.append(f"{key}: max abs difference {diff:.3g}")
    print(f"{len(now)} arrays compared, {len(bad)} differ")
    for line in bad:
        print("  " + line)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
