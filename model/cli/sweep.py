"""Command line of sweeps: ``python -m model sweep SPEC --out DIR`` and ``python -m model analyze
DIR``.

``add_commands(subparsers)`` registers both commands on the model's CLI (``model.cli.main``);
``main(argv)`` runs them on their own. Bad input raises ``ModelInputError`` (exit code 2) before
anything is created; a folder another sweep is writing is refused the same way. SIGTERM and
SIGHUP end a sweep as Ctrl-C does (``model.io.atomic.terminate_cleanly``): only whole, sealed
parts stay, no temporary file; the exit code is 128 + the signal (130 for Ctrl-C).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from model.cli.argtypes import pos_int as _pos_int
from model.cli.argtypes import unit_interval
from model.io.errors import ModelInputError

EXIT_BAD_INPUT = 2


def _out(text: str) -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(text + "\n")


def cmd_sweep(args: argparse.Namespace) -> int:
    from model.experiments import sweep as S
    from model.io import access
    from model.io.atomic import terminate_cleanly
    from model.io.store import chunk_bounds

    sw = S.load_spec(args.spec, samples=args.samples, params=args.params)
    out = Path(args.out)
    access.check_outputs({"--out": out}, {"the spec": args.spec,
                                          "the scenario": sw.scenario_path}, folders={"--out"})
    S.check_out_dir(out, sw, fresh=args.fresh)  # refuse a foreign or different folder first
    chunk = args.chunk
    chunks = len(chunk_bounds(sw.runs, chunk))
    _out(f"sweep {sw.name!r}: {sw.method} over {len(sw.dims)} parameter(s) "
         f"({', '.join(sw.names)}); {sw.rows:,} samples x {sw.replicates} replicate(s) = "
         f"{sw.runs:,} runs of {sw.months} months of scenario {sw.scenario.name!r}; "
         f"{len(sw.outcomes)} outcome(s); {chunks} chunk(s) of {chunk}")
    _out(f"parameters not swept: {sw.params_text()} (params: {sw.params}; --params "
         f"{'default' if sw.params == 'posterior' else 'posterior'} for the other)")
    if args.dry_run:
        sw.sample_matrix()   # the sampler accepts the sample size
        _out("dry run: the spec is valid; nothing was written")
        return 0
    with terminate_cleanly(), access.os_errors(out, option="--out"):
        report = S.run_sweep(sw, out, workers=args.workers, dask=args.dask,
                             scheduler=args.scheduler, chunk=chunk, fresh=args.fresh,
                             progress=not args.quiet, log=_err)
    _out(report.text())
    _out(f"results: {out / S.PARTS}/ (one row per run); analyse with: python -m model analyze "
         f"{out}")
    return 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from model.experiments import sweep as S
    from model.io import access

    if args.out is not None:
        access.check_outputs({"--out": args.out}, {"the sweep folder": args.dir},
                             folders={"--out"})
    res = S.analyze(args.dir, dest=args.out, resamples=args.resamples,
                    conf_level=args.conf_level, seed=args.seed, plots=not args.no_plots)
    _out(res.text())
    return 0


def add_commands(subparsers) -> None:
    """Register ``sweep`` and ``analyze`` on a subparsers action (``parser.add_subparsers()``)."""
    from model.analysis.outcomes import kinds_help

    sw = subparsers.add_parser(
        "sweep", help="run a parameter sweep (factorial, LHS, Sobol, Morris) to Parquet",
        description="Sample parameters as a sweep spec says, run the batched engine in chunks "
                    "and stream one row per run to DIR/parts/*.parquet. Running the same "
                    "command again on the same DIR completes only the missing chunks.",
        epilog="outcome kinds for the spec's 'outcomes':\n" + kinds_help()
               + "\n\nsee docs/sweeps.md for the spec format",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sw.add_argument("spec", help="sweep spec (YAML)")
    sw.add_argument("--out", required=True, metavar="DIR", help="output folder (new, or the "
                    "folder of an unfinished run of the same spec to resume it)")
    sw.add_argument("--samples", type=_pos_int, default=None, metavar="N",
                    help="override the spec's sample size N")
    sw.add_argument("--params", choices=("posterior", "default"), default=None,
                    help="where the parameters not swept come from (overrides the spec's "
                         "'params'): per-run draws from the calibrated posterior (the default, "
                         "as for 'run'), or the parameter table's defaults")
    where = sw.add_mutually_exclusive_group()
    where.add_argument("--dask", choices=("local",), default=None,
                       help="run on a Dask LocalCluster of --workers processes")
    where.add_argument("--scheduler", metavar="ADDR", default=None,
                       help="run on an existing Dask cluster, e.g. tcp://HOST:8786")
    sw.add_argument("--workers", type=_pos_int, default=1, metavar="N",
                    help="local worker processes (default 1: this process)")
    sw.add_argument("--chunk", type=_pos_int, default=512, metavar="N",
                    help="runs per chunk and part file (default 512)")
    sw.add_argument("--fresh", action="store_true",
                    help="start over: empty DIR of an earlier sweep (of any spec) first")
    sw.add_argument("--quiet", action="store_true", help="no progress bar")
    sw.add_argument("--dry-run", action="store_true",
                    help="validate the spec and print the plan; write nothing")
    sw.set_defaults(func=cmd_sweep)

    an = subparsers.add_parser(
        "analyze", help="sensitivity analysis of a finished sweep (Sobol, Morris, ranks)",
        description="Sobol indices (S1, ST with confidence intervals) or Morris mu*/sigma, "
                    "matched to the sweep's sampler (Spearman rank correlations for LHS and "
                    "factorial sweeps), for each outcome averaged over replicates; printed, and "
                    "written as CSV with PNG bar charts and scatter plots.")
    an.add_argument("dir", metavar="DIR", help="the --out folder of a sweep")
    an.add_argument("--out", default=None, metavar="DIR2",
                    help="where to write CSV and PNG files (default DIR/analysis)")
    an.add_argument("--resamples", type=_pos_int, default=1000,
                    help="bootstrap resamples for confidence intervals (default 1000)")
    an.add_argument("--conf-level", type=unit_interval, default=0.95,
                    help="confidence level (default 0.95)")
    an.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    an.add_argument("--no-plots", action="store_true", help="write the CSV only")
    an.set_defaults(func=cmd_analyze)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors exit 2, as bad input does
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m model", description="parameter sweeps")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``sweep`` or ``analyze`` (``argv`` without the program name); returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ModelInputError as exc:
        _err(f"error: {exc}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:   # Ctrl-C, or SIGTERM/SIGHUP (atomic.Terminated)
        _err(f"interrupted{f' ({exc})' if str(exc) else ''}: the completed chunks are saved; "
             f"run the same command to resume")
        return getattr(exc, "exit_code", 130)


if __name__ == "__main__":
    sys.exit(main())
