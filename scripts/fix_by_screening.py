"""Apply a screening's ranking to the parameter table: keep the K parameters most influential on
the ABC distance free and record every other one as ``fixed:`` at its default, with the reason
(docs/parsimony.md, "Choosing the free parameters").

    uv run --frozen python scripts/fix_by_screening.py out/screening/screening.csv --keep 30

Entries fixed for a documented reason (any ``fixed:`` not written by this script) are left as
they are and do not count against K. Re-running replaces the fixes this script wrote before.
The table is rewritten line by line (comments and layout kept), and the new text is checked
through ``model.core.params`` before it is written, so that a bad result is never left behind.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

from model.calibration.problem import SCREENING_FIX as MARK  # how the reasons written here begin
from model.core import params as P

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "model" / "data" / "parameters.yaml"


def reason(rank: int, n: int, keep: int, mu: float, top: float) -> str:
    return (f"{MARK}docs/parsimony.md): rank {rank} of {n} by Morris mu* on the ABC distance "
            f"over the prior ({mu / top:.2f} of the largest); only the {keep} most influential "
            f"are calibrated (issue 17: <= 30 free parameters for 74 targets), so it keeps its "
            f"table value")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("screening", help="screening.csv of `python -m model screen`")
    ap.add_argument("--keep", type=int, default=30)
    args = ap.parse_args(argv)
    df = pd.read_csv(args.screening)
    lines = TABLE.read_text(encoding="utf-8").splitlines(keepends=True)
    # drop the fixes written before by this script
    lines = [ln for ln in lines if not ln.startswith(f"  fixed: \"{MARK}")]
    text = "".join(lines)
    documented = set(re.findall(r"^([a-z_0-9]+):\n(?:  .*\n)*?  fixed: ", text, flags=re.M))
    cand = df[~df["parameter"].isin(documented)].sort_values("rank_distance")
    top = float(cand["mu_star"].max())
    dist = df.set_index("parameter")
    free = list(cand["parameter"][: args.keep])
    out, current = [], None
    n = len(cand)
    for ln in lines:
        m = re.match(r"^([a-z_0-9]+):\s*$", ln)
        if m:
            current = m.group(1)
        out.append(ln)
        if current in dist.index and current not in documented and current not in free \
                and ln.startswith("  group:"):
            rank = int(cand["parameter"].tolist().index(current)) + 1
            mu = float(dist.loc[current, "mu_star"])
            out.append(f"  fixed: \"{reason(rank, n, args.keep, mu, top)}\"\n")
    text = "".join(out)
    table = P.load_table(text, str(TABLE))        # a bad result is refused before writing
    TABLE.write_text(text, encoding="utf-8")
    fixed = {n: p.fixed for n, p in table.items() if p.fixed is not None}
    print(f"{len(table) - len(fixed)} free, {len(fixed)} fixed "
          f"({len(documented)} for a documented reason); free: {', '.join(free)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
