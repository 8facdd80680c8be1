"""Command line of the parsimony tools: ``python -m model screen`` (Morris then Sobol over the
prior, on the calibration targets: ``model.calibration.screening``) and ``python -m model
ablate`` (each mechanism off, timing skill in and out of sample: ``model.calibration.ablation``).

``add_commands(subparsers)`` registers both on the model's CLI (``model.cli.main``). Method,
rule and figures: ``docs/parsimony.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model.cli.argtypes import nonneg_int, pos_int, unit_interval
from model.io.errors import ModelInputError

DEFAULT_OUT = "out/screening"


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def cmd_screen(args: argparse.Namespace) -> int:
    from model.calibration.screening import ScreenSettings, screen, summary_text
    from model.io import access

    s = ScreenSettings(trajectories=args.trajectories, sobol=args.sobol,
                       replicates=args.replicates, seed=args.seed, threshold=args.threshold,
                       resamples=args.resamples, rule=args.rule)
    s.check()
    out = Path(args.out)
    access.check_outputs({"--out": out}, folders={"--out"})
    with access.os_errors(out, option="--out"):
        res = screen(out, s, fresh=args.fresh, progress=not args.quiet)
    _out(summary_text(res))
    _out(f"wrote {', '.join(str(p) for p in res.files)}")
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    from model.calibration.ablation import (
        MECHANISMS,
        Posteriors,
        ablate,
        format_table,
        until_posterior,
    )
    from model.calibration.scoring import read_posterior
    from model.io import access
    from model.io.atomic import write_csv

    full = args.params
    if full not in ("posterior", "default"):
        access.check_input(full, access.POSTERIOR, shown=full)
        read_posterior(full)
    until = None
    if args.posterior_until:
        until = until_posterior(args.posterior_until, args.cut)
        access.check_input(until, access.POSTERIOR, shown=until)
        read_posterior(until)
    mechs = args.only.split(",") if args.only else None
    bad = [m for m in mechs or () if m not in MECHANISMS]
    if bad:
        raise ModelInputError(f"--only {args.only}: unknown mechanism(s) {', '.join(bad)}; "
                              f"known: {', '.join(MECHANISMS)}")
    if args.out:
        access.check_outputs({"--out": args.out})
    post = Posteriors(full=full, until=until, cut=args.cut)
    df = ablate(post, runs=args.runs, seed=args.seed, mechanisms=mechs, progress=not args.quiet)
    _out(format_table(df, post, args.runs))
    if args.out:
        with access.os_errors(args.out, option="--out"):
            write_csv(Path(args.out), df)
        _out(f"wrote {args.out}")
    return 0


def add_commands(sub) -> None:
    """Register ``screen`` and ``ablate`` on the model's subparsers."""
    sc = sub.add_parser("screen", help="sensitivity screening of every free parameter on the "
                                       "calibration targets (Morris, then Sobol on survivors)")
    sc.add_argument("--trajectories", type=pos_int, default=20,
                    help="Morris trajectories (default 20; each is d+1 points)")
    sc.add_argument("--sobol", type=nonneg_int, default=128,
                    help="Sobol base samples N, a power of 2 (default 128; 0: Morris only)")
    sc.add_argument("--replicates", type=pos_int, default=8,
                    help="runs per point, common random numbers (default 8)")
    sc.add_argument("--threshold", type=unit_interval, default=0.1,
                    help="the rule's bound on normalised mu* (default 0.1)")
    sc.add_argument("--rule", choices=("targets", "aggregate", "noise"), default="targets",
                    help="which outputs decide the verdict and the Sobol survivors: every "
                         "target, family and the distance (default); the distance and the "
                         "families only; or every output where the effect stands above noise "
                         "(all three are reported)")
    sc.add_argument("--resamples", type=pos_int, default=500,
                    help="bootstrap resamples of the intervals (default 500)")
    sc.add_argument("--seed", type=nonneg_int, default=0)
    sc.add_argument("--out", default=DEFAULT_OUT,
                    help=f"working and output folder (default {DEFAULT_OUT}); rerun the same "
                         "command to resume")
    sc.add_argument("--fresh", action="store_true", help="discard a previous screening in --out")
    sc.add_argument("--quiet", action="store_true", help="no progress bar")
    sc.set_defaults(func=cmd_screen)

    ab = sub.add_parser("ablate", help="each mechanism off: timing skill in and out of sample "
                                       "(posteriors not refitted)")
    ab.add_argument("--params", default="posterior", metavar="posterior|default|FILE",
                    help="parameter sets of the in-sample score (default: the shipped posterior)")
    ab.add_argument("--posterior-until", metavar="FILE|DIR",
                    help="a posterior fitted up to --cut (a CSV, or the --out folder of "
                         "`calibrate --until CUT` or `calibrate --rolling`) for the "
                         "out-of-sample score")
    ab.add_argument("--cut", default="2011-12", metavar="YYYY-MM",
                    help="out of sample: the decisions after this month (default 2011-12)")
    ab.add_argument("--only", metavar="M1,M3,...", help="only these mechanisms")
    ab.add_argument("--runs", type=pos_int, default=200, help="runs per variant (default 200)")
    ab.add_argument("--seed", type=nonneg_int, default=0)
    ab.add_argument("--out", metavar="FILE.csv", help="also write the table as CSV")
    ab.add_argument("--quiet", action="store_true", help="no progress lines")
    ab.set_defaults(func=cmd_ablate)


def main(argv: list[str] | None = None) -> int:
    """Run ``screen`` or ``ablate`` on their own (the model's CLI is the usual entry)."""
    parser = argparse.ArgumentParser(prog="python -m model")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
