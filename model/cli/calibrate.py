"""Command line of the calibration: ``python -m model calibrate ...`` (method:
``model.calibration.fit``, docs: ``docs/calibration.md``).

``add_arguments(parser)`` declares the options on the model's CLI (``model.cli.main``);
``cmd_calibrate(args)`` runs a fit (or, with ``--report``, the validation fit, the full fit and
the report) and ``main(argv)`` runs the command on its own. The work is done by
``model.calibration``; this module only reads options, dispatches and prints.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from model.calibration import posterior as post_io
from model.calibration.fit import fit_history, workdir
from model.calibration.report import summary_text, write_report
from model.calibration.scoring import SPLIT, history_runs, split_scores
from model.engine.paramsets import load_posterior
from model.inputs.scenario import month_label
from model.io.errors import ModelInputError
from model.io.paths import ROOT

DEFAULT_OUT = ROOT / "out" / "calibration"
REPORTS = ROOT / "reports"


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--budget", type=int, default=None,
                   help="total simulation runs (default: calibration.yaml, ~420k)")
    p.add_argument("--out", default=None,
                   help=f"working folder root (default {DEFAULT_OUT.relative_to(ROOT)})")
    p.add_argument("--resume", action="store_true", help="continue an interrupted calibration")
    p.add_argument("--fresh", action="store_true", help="discard a previous calibration in DIR")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--until", default=None, metavar="YYYY-MM",
                   help="fit on targets up to this month only (validation); does not install")
    p.add_argument("--report", action="store_true",
                   help=f"fit up to {SPLIT} and on all targets (resuming finished work), check "
                        "out of sample, and write reports/calibration.md with plots")
    p.add_argument("--no-install", action="store_true",
                   help="do not write model/data/posterior.csv and provenance.csv")
    p.add_argument("--runs", type=int, default=200,
                   help="history runs for the checks with the posterior (default 200, as "
                        "history-check)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``python -m model calibrate``: one fit (all targets, or up to ``--until``), its posterior
    and provenance in the working folder (installed in ``model/data`` unless ``--until`` or
    ``--no-install``), then the history check with that posterior."""
    root = Path(args.out) if args.out else DEFAULT_OUT
    progress = not args.quiet
    if args.report:
        return _report_flow(args, root, progress)
    t0 = time.perf_counter()
    cal = fit_history(args.until, args.seed, args.budget, root, args.resume, args.fresh,
                      progress)
    path, prov = post_io.save(cal, workdir(root, args.until))
    _say(summary_text(cal))
    if args.until is None and not args.no_install:
        shipped, shipped_prov = post_io.install(cal, prov)
        _say(f"wrote {shipped.relative_to(ROOT)} ({len(cal.accepted)} sets) and "
             f"{shipped_prov.relative_to(ROOT)}")
    _say(f"wrote {path}")
    _check(path, args)
    _say(f"total wall time {time.perf_counter() - t0:.0f} s")
    return 0


def _check(path: Path, args: argparse.Namespace) -> None:
    """Print the history check of the posterior at ``path`` in and out of sample."""
    res = history_runs(load_posterior(path), args.runs, args.seed)
    split = args.until or SPLIT
    sc = split_scores(res, split)
    _say(f"history-check with this posterior ({args.runs} runs):")
    _say(f"  in sample (.. {split}):   reproduced={sc['in'].reproduced}/{sc['in'].total}")
    _say(f"  out of sample ({month_label(split, 1)} ..): "
         f"reproduced={sc['out'].reproduced}/{sc['out'].total}")
    _say(f"  all:                     reproduced={sc['all'].reproduced}/{sc['all'].total}")


def _report_flow(args: argparse.Namespace, root: Path, progress: bool) -> int:
    """``--report``: the validation fit (up to SPLIT) and the full fit, resuming finished work,
    their posteriors, and reports/calibration.md."""
    t0 = time.perf_counter()
    val = fit_history(SPLIT, args.seed, args.budget, root, True, args.fresh, progress)
    full = fit_history(None, args.seed, args.budget, root, True, args.fresh, progress)
    post_io.save(val, workdir(root, SPLIT))
    _, prov = post_io.save(full, workdir(root, None))
    if not args.no_install:
        post_io.install(full, prov)
    path = write_report(val, full, REPORTS, runs=args.runs, seed=args.seed)
    _say(summary_text(val))
    _say(summary_text(full))
    _say(f"wrote {path} ({time.perf_counter() - t0:.0f} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m model.cli.calibrate ...`` (the same as ``python -m model calibrate ...``)."""
    parser = argparse.ArgumentParser(prog="python -m model calibrate",
                                     description="Calibration of the history replay: history "
                                                 "matching in waves, then ABC rejection.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_calibrate(args)
    except ModelInputError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: finished chunks are kept; rerun with --resume\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
