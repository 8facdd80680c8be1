"""Command line of the calibration: ``python -m model calibrate ...`` (method:
``model.calibration.fit``, docs: ``docs/calibration.md``).

``add_arguments(parser)`` declares the options on the model's CLI (``model.cli.main``);
``cmd_calibrate(args)`` runs a fit (or, with ``--report``, the validation fit, the full fit and
the report; with ``--rolling``, the rolling-origin check, ``model.calibration.rolling``; with
``--sbc N``, simulation-based calibration of the method, ``model.calibration.sbc``) and
``main(argv)`` runs the command on its own. The work is done by ``model.calibration``; this
module only reads options, dispatches and prints.

Every argument is checked before any work (``validate``), so that a bad one writes nothing; the
shipped posterior and provenance are replaced only at the very end, once the whole command
(fit, history check, report) has succeeded.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from model.calibration import posterior as post_io
from model.calibration import rolling, sbc
from model.calibration.fit import fit_history, history_settings, workdir
from model.calibration.identification import contraction_line, identification
from model.calibration.problem import free_parameters
from model.calibration.report import summary_text, update_rolling, write_report
from model.calibration.scoring import SPLIT, history_runs, read_posterior, split_scores
from model.calibration.settings import METHODS, CalibrationError
from model.engine.paramsets import POSTERIOR_PATH
from model.inputs.scenario import month_label
from model.io import atomic
from model.io.errors import ModelInputError
from model.io.paths import ROOT

DEFAULT_OUT = ROOT / "out" / "calibration"
REPORTS = ROOT / "reports"
#: The most history runs of the checks with a posterior (``--runs``): their results are held in
#: memory (a history run of 300 months keeps about 0.1 MB); bigger ensembles: ``sweep``.
MAX_RUNS = 10_000
#: Runs per fit of ``--sbc`` when ``--budget`` is not given (each synthetic history is a fit).
SBC_BUDGET = 16_000


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--budget", type=int, default=None,
                   help="total simulation runs per fit (default: calibration.yaml, ~420k)")
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
    p.add_argument("--rolling", action="store_true",
                   help="out-of-sample check by rolling origin: for each cut, fit on the targets "
                        "up to it (resuming finished work), replay the history with that "
                        "posterior and score the decisions after the cut (timing score); "
                        "writes the table to OUT/rolling/ and reports/calibration.md; never "
                        "installs")
    p.add_argument("--cuts", default=None, metavar="YYYY-MM,...",
                   help="cuts of --rolling (default " + ",".join(rolling.DEFAULT_CUTS) + ")")
    p.add_argument("--method", choices=METHODS, default=None,
                   help="inference method (default: calibration.yaml algorithm: method, smc = "
                        "ABC-SMC with importance weights; hm = history matching then ABC "
                        "rejection, for comparison)")
    p.add_argument("--sbc", type=int, default=None, metavar="N",
                   help="simulation-based calibration of the method on N synthetic histories "
                        "drawn from the prior (each a fit of --budget runs, default "
                        f"{SBC_BUDGET:,}); prints the coverage of the 50 %% and 90 %% posterior "
                        "intervals and the rank test; resumable; never installs")
    p.add_argument("--sbc-params", default=None, metavar="NAME,...",
                   help="with --sbc: the free parameters drawn and fitted (default all; the "
                        "others keep the table's defaults)")
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


def _rel(path: Path) -> Path:
    """``path`` relative to the project when inside it."""
    return path.relative_to(ROOT) if path.is_relative_to(ROOT) else path


def _check_options(args: argparse.Namespace) -> None:
    """Refuse contradictory or out-of-range options (CalibrationError), before any work."""
    modes = [f"--{m}" for m in ("until", "report", "rolling", "sbc")
             if getattr(args, m) not in (None, False)]
    if len(modes) > 1:
        raise CalibrationError(f"{' and '.join(modes)} cannot be combined: choose one")
    if args.cuts is not None and not args.rolling:
        raise CalibrationError("--cuts goes with --rolling")
    if args.sbc_params is not None and args.sbc is None:
        raise CalibrationError("--sbc-params goes with --sbc")
    if args.sbc is not None and not 1 <= args.sbc <= MAX_RUNS:
        raise CalibrationError(f"--sbc must be between 1 and {MAX_RUNS:,} synthetic histories, "
                               f"got {args.sbc}")
    if args.resume and args.fresh:
        raise CalibrationError("--resume and --fresh contradict each other: choose one")
    if not 1 <= args.runs <= MAX_RUNS:
        raise CalibrationError(f"--runs must be between 1 and {MAX_RUNS:,} (history runs of the "
                               f"checks), got {args.runs}")
    if args.budget is not None and args.budget < 1:
        raise CalibrationError(f"--budget must be a positive number of runs, got {args.budget}")
    if args.seed < 0:
        raise CalibrationError(f"--seed must be >= 0, got {args.seed}")
    from model.io import access

    root = Path(args.out) if args.out else DEFAULT_OUT
    try:
        access.check_outputs({"--out": root}, folders={"--out"})
    except access.AccessError as exc:
        raise CalibrationError(str(exc)) from None


def _installs(args: argparse.Namespace) -> bool:
    return (not args.no_install and args.until is None and not args.rolling
            and args.sbc is None)


def _sbc_names(args: argparse.Namespace) -> list[str] | None:
    if args.sbc_params is None:
        return None
    names = [n.strip() for n in args.sbc_params.split(",") if n.strip()]
    if not names:
        raise CalibrationError("--sbc-params: expected parameter names separated by commas")
    return names


def validate(args: argparse.Namespace) -> list[rolling.Cut] | None:
    """Check every argument before any work, so that a bad one writes nothing: the options,
    the settings of every fit the command will run, the cuts of ``--rolling`` (returned,
    checked), and that the shipped posterior can be replaced when it will be."""
    _check_options(args)
    if args.rolling:
        return rolling.check_cuts(rolling.parse_cuts(args.cuts), args.seed, args.budget,
                                  **_method(args))
    if args.sbc is not None:
        sbc.sbc_settings(args.seed, args.budget or SBC_BUDGET, args.method)
        sbc.sbc_problem(_sbc_names(args))
        return None
    for until in ((SPLIT, None) if args.report else (args.until,)):
        history_settings(until, args.seed, args.budget, **_method(args))
    if _installs(args):
        folder = POSTERIOR_PATH.parent
        if not os.access(folder, os.W_OK) or any(
                p.exists() and not os.access(p, os.W_OK)
                for p in (POSTERIOR_PATH, post_io.PROVENANCE_PATH)):
            raise CalibrationError(f"{folder}: cannot replace the shipped posterior there (not "
                                   "writable); pass --no-install")
    return None


def _method(args: argparse.Namespace) -> dict:
    """The settings overrides of the command line (``--method``)."""
    return {} if args.method is None else {"method": args.method}


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``python -m model calibrate``: one fit (all targets, or up to ``--until``), its posterior
    and provenance in the working folder, the history check with that posterior, and (unless
    ``--until`` or ``--no-install``) only then the posterior installed in ``model/data``.
    ``--report`` and ``--rolling`` run their own flows."""
    cuts = validate(args)
    root = Path(args.out) if args.out else DEFAULT_OUT
    progress = not args.quiet
    if args.report:
        return _report_flow(args, root, progress)
    if cuts is not None:
        return _rolling_flow(args, cuts, root, progress)
    if args.sbc is not None:
        return _sbc_flow(args, root, progress)
    t0 = time.perf_counter()
    cal = fit_history(args.until, args.seed, args.budget, root, args.resume, args.fresh,
                      progress, **_method(args))
    folder = workdir(root, args.until)
    path, _ = post_io.save(cal, folder)
    _say(summary_text(cal))
    _say(contraction_line(identification(cal)) + f" (per parameter: {folder}/identification.csv)")
    _say(f"wrote {path}")
    _check(path, args)
    if _installs(args):             # last: only a calibration that fully succeeded is shipped
        shipped, shipped_prov = post_io.install(folder)
        _say(f"wrote {_rel(shipped)} ({len(cal.accepted)} sets) and {_rel(shipped_prov)}")
    _say(f"total wall time {time.perf_counter() - t0:.0f} s")
    return 0


def _check(path: Path, args: argparse.Namespace) -> None:
    """Print the history check of the posterior at ``path`` in and out of sample."""
    res = history_runs(read_posterior(path, free_parameters()), args.runs, args.seed)
    split = args.until or SPLIT
    sc = split_scores(res, split)
    _say(f"history-check with this posterior ({args.runs} runs):")
    _say(f"  in sample (.. {split}):   reproduced={sc['in'].reproduced}/{sc['in'].total}")
    _say(f"  out of sample ({month_label(split, 1)} ..): "
         f"reproduced={sc['out'].reproduced}/{sc['out'].total}")
    _say(f"  all:                     reproduced={sc['all'].reproduced}/{sc['all'].total}")


def _report_flow(args: argparse.Namespace, root: Path, progress: bool) -> int:
    """``--report``: the validation fit (up to SPLIT) and the full fit, resuming finished work,
    their posteriors, reports/calibration.md (with the rolling-origin table when ``--rolling``
    stored one under ``root``), and only then the full fit's posterior installed."""
    t0 = time.perf_counter()
    val = fit_history(SPLIT, args.seed, args.budget, root, True, args.fresh, progress,
                      **_method(args))
    full = fit_history(None, args.seed, args.budget, root, True, args.fresh, progress,
                       **_method(args))
    post_io.save(val, workdir(root, SPLIT))
    post_io.save(full, workdir(root, None))
    path = write_report(val, full, REPORTS, runs=args.runs, seed=args.seed,
                        rolling=rolling.load_table(root))
    _say(summary_text(val))
    _say(summary_text(full))
    if _installs(args):
        post_io.install(workdir(root, None))
    _say(f"wrote {path} ({time.perf_counter() - t0:.0f} s)")
    return 0


def _rolling_flow(args: argparse.Namespace, cuts: list[rolling.Cut], root: Path,
                  progress: bool) -> int:
    """``--rolling``: the rolling origin over the checked ``cuts``; its table in
    ``root/rolling/`` and reports/calibration.md, and printed. Installs nothing."""
    t0 = time.perf_counter()
    table = rolling.run_rolling(cuts, root, args.seed, args.budget, args.runs,
                                fresh=args.fresh, progress=progress, **_method(args))
    report = update_rolling(REPORTS / "calibration.md", table)
    folder = root / rolling.FOLDER
    _say(f"rolling origin ({len(cuts)} cuts; fits in {root}/until-CUT, seed {args.seed}, "
         f"{args.runs} history runs each): decisions after each cut, scored out of sample")
    _say("\n".join(rolling.summary_lines(table)))
    _say(f"wrote {folder / 'rolling.csv'}, {folder / 'rolling.md'} and {report}")
    _say(f"total wall time {time.perf_counter() - t0:.0f} s")
    return 0


def _sbc_flow(args: argparse.Namespace, root: Path, progress: bool) -> int:
    """``--sbc N``: simulation-based calibration of the method on N synthetic histories; the
    table in ``root/sbc/`` (``sbc.csv``, ``coverage.csv``) and printed. Installs nothing."""
    t0 = time.perf_counter()
    s = sbc.sbc_settings(args.seed, args.budget or SBC_BUDGET, args.method)
    table = sbc.run_sbc(args.sbc, s, root, _sbc_names(args), fresh=args.fresh,
                        progress=progress)
    cov = sbc.coverage(table)
    folder = root / sbc.FOLDER
    atomic.write_csv(folder / "sbc.csv", table, lineterminator="\n")
    atomic.write_csv(folder / "coverage.csv", cov, lineterminator="\n")
    _say("\n".join(sbc.summary_lines(cov, s)))
    _say(f"wrote {folder / 'sbc.csv'} and {folder / 'coverage.csv'}")
    _say(f"total wall time {time.perf_counter() - t0:.0f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m model.cli.calibrate ...`` (the same as ``python -m model calibrate ...``)."""
    parser = argparse.ArgumentParser(prog="python -m model calibrate",
                                     description="Calibration of the history replay: ABC-SMC "
                                                 "with importance weights from the prior.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_calibrate(args)
    except ModelInputError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"error: {where}{exc.strerror or exc}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("interrupted: finished chunks are kept; rerun with --resume\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
