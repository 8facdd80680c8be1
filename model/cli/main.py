"""Command line: ``python -m model COMMAND ...``.

Every command validates its inputs before it runs anything: arguments, input files (through the
file-access policy, ``model.io.access``), output paths (never an input, never another output of
the same command) and the memory it would need (``model.cli.limits``). ``main`` is the one error
boundary: bad input, a file that cannot be read or written, too little memory or a structure
nested too deeply print a message to stderr naming the file or option and what to do, exit 2,
and leave no partial output file; Ctrl-C exits 130 and SIGTERM/SIGHUP 128 + the signal, also
leaving no partial file; anything else is a bug, said in one line (``--debug`` shows the
traceback).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from model.cli import limits
from model.cli.argtypes import nonneg_int as _nonneg_int
from model.cli.argtypes import pos_int as _pos_int
from model.core import params as P
from model.core import spec
from model.io.atomic import write_csv, write_text
from model.io.errors import ModelInputError

EXIT_BAD_INPUT = 2
#: Exit code of an unexpected error (a bug): not 2, which means "your input".
EXIT_BUG = 1
#: The ``--params`` words that are not files.
PARAMS_WORDS = ("auto", "default", "posterior")


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 2 for usage errors and ``--debug`` on every (sub)command."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="on an unexpected error, show the traceback (for a bug report)")

    def error(self, message: str) -> None:  # argparse's own usage errors also exit 2
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")


def _assignment(text: str) -> tuple[str, float]:
    name, eq, value = text.partition("=")
    if not eq:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"parameter {name.strip()!r}: expected a number, got {value!r}") from None


def _inputs(args: argparse.Namespace, **named) -> dict[str, str | None]:
    """The input files of a command (name -> path) for ``access.check_outputs``: ``named`` and
    a ``--params`` file."""
    params = getattr(args, "params", None)
    return {**named, "--params": params if params not in (None, *PARAMS_WORDS) else None}


def _check_run(args: argparse.Namespace):
    """Every check of ``run`` before any work: the scenario, --set, --months, the outputs
    (kinds, places, never the scenario or --params or each other), --params, memory and
    --workers. Returns (scenario, overrides, out, bands, params, workers)."""
    from model.analysis import outcomes as O
    from model.inputs.compiled import compile_scenario
    from model.inputs.scenario import load_scenario
    from model.io import access
    from model.io.longtable import check_path

    sc = load_scenario(args.scenario)
    overrides = dict(args.set or [])
    for k, v in overrides.items():
        P.check(k, v, where="--set")
    comp = compile_scenario(sc, args.months)  # validates --months against the scenario
    out = check_path(args.out) if args.out else None
    bands = Path(args.bands) if args.bands else None
    if bands is not None and bands.suffix != ".csv":
        raise ModelInputError(f"--bands {args.bands}: expected a file ending in .csv")
    params = _params_choice(args.params)
    access.check_outputs({"--out": out, "--bands": bands},
                         _inputs(args, **{"the scenario": args.scenario}))
    per_run = limits.run_bytes(comp.months)
    chunk = min(args.chunk, args.runs)
    limits.check("one chunk", chunk, per_run * limits.FACTOR["chunk"], "Use a smaller --chunk",
                 option="--chunk")
    limits.check("the summary (one number per run and quantity)", args.runs,
                 limits.FACTOR["summary"] * 8 * len(O.RUN_SUMMARY),
                 "Use fewer --runs, or `python -m model sweep`, which keeps its runs on disk")
    if bands is not None:
        limits.check("run --bands (quantiles over all runs)", args.runs,
                     per_run * limits.FACTOR["bands"],
                     "Use fewer --runs, or write the long table with --out (it streams to "
                     "disk) and compute the bands from it")
    workers = limits.workers(args.workers, chunk * per_run * limits.FACTOR["chunk"])
    return sc, overrides, out, bands, params, workers


def cmd_run(args: argparse.Namespace) -> int:
    from model.analysis.summary import BandsCollector, RunSummary
    from model.engine.runner import iter_chunks
    from model.io import access
    from model.io.longtable import write_long_table

    sc, overrides, out, bands, params, workers = _check_run(args)
    limits.steady_allocator()  # flat memory over any number of chunks
    summary = RunSummary()
    # bands (quantiles over all runs) need every run's series: copied, not the chunks kept
    collect = BandsCollector(args.runs) if bands is not None else None

    def chunks():
        for res in iter_chunks(sc, runs=args.runs, seed=args.seed, months=args.months,
                               params=params, overrides=overrides, chunk=args.chunk,
                               workers=workers):
            summary.add(res)
            if collect is not None:
                collect.add(res)
            yield res

    if out is not None:
        with access.os_errors(out, option="--out"):
            rows = write_long_table(chunks(), out)
        print(f"wrote {rows:,} rows to {out}")
    else:
        for _ in chunks():
            pass
    print(summary.text())
    if collect is not None:
        with access.os_errors(bands, option="--bands"):
            write_csv(bands, collect.bands(), index=False)
        print(f"wrote the median and 5-95% bands of every series to {bands}")
    return 0


def cmd_history_check(args: argparse.Namespace) -> int:
    from model.analysis.history import score
    from model.analysis.timing import format_table, score_timing
    from model.engine.runner import simulate
    from model.inputs.scenario import load_scenario

    sc = load_scenario(args.scenario)
    until, after = (_cut(f"--{k}", getattr(args, k)) for k in ("until", "after"))
    _check_cuts(sc, until, after)   # before any run: a cut that leaves nothing is an error
    params = _params_choice(args.params)
    workers = _check_memory("history-check", sc, args.runs, args.workers,
                            "Use fewer --runs (1,000 runs give every share to within about "
                            "+-3 points)")
    res = simulate(sc, runs=args.runs, seed=args.seed, workers=workers, params=params)
    timing = score_timing(res, until=until, after=after)
    since = _month_after(after) if after is not None else None
    old = score(res, window=args.window, until=until, since=since)
    print(f"parameters: {_params_label(args.params)}")
    print(format_table(timing.table))
    print("")
    print(f"{'documented turn':20s} {'share':>6s}  description")
    for row in old.patterns.itertuples():
        print(f"{row.id:20s} {row.share:6.2f}  {row.description}")
    print("")
    print("\n".join(_headline(timing.summary)))
    print(f"secondary (made within +-{args.window} months in a majority of runs; many acts are "
          "chosen in most months, so this says little about timing):")
    print(f"reproduced={old.reproduced}/{old.total}")
    return 0


def _check_memory(what: str, sc, runs: int, workers: int, advice: str, *,
                  ensembles: int = 1, trace: bool = False) -> int:
    """Refuse ``runs`` runs of ``sc`` held in memory above the limit (``limits.check``);
    returns ``--workers`` capped by memory and cores. ``ensembles``: how many such ensembles
    the command holds at once (compare: 2, traced)."""
    from model.inputs.compiled import compile_scenario

    comp = compile_scenario(sc, None)
    per_run = limits.run_bytes(comp.months, len(comp.ev_ids) if trace else None)
    limits.check(what, runs, ensembles * per_run * limits.FACTOR[what], advice)
    return limits.workers(workers, min(runs, 1024) * per_run * limits.FACTOR["chunk"])


def _headline(summary) -> list[str]:
    """The timing summary's lines (timed=K/N and the skill against both nulls) without its own
    secondary +-6 count, which the reproduced=K/N line below gives at --window."""
    from model.analysis.timing import summary_lines

    return [line for line in summary_lines(summary) if not line.startswith("secondary:")]


def _cut(option: str, text: str | None) -> str | None:
    """A --until/--after value as YYYY-MM; a bad one is a TimingError naming the option."""
    from model.analysis.timing import TimingError, parse_cut

    if text is None:
        return None
    try:
        return parse_cut(text)
    except TimingError as exc:
        raise TimingError(f"{option} {text}: {exc}") from None


def _month_after(month: str) -> str:
    from model.io.dates import month_label

    return month_label(month, 1)


def _check_cuts(sc, until: str | None, after: str | None) -> None:
    """A cut that leaves no documented decision inside the scenario's run: a TimingError."""
    from model.analysis.history import scored_decisions
    from model.analysis.timing import TimingError
    from model.inputs.compiled import compile_scenario
    from model.io.dates import month_label

    if until is None and after is None:
        return
    months = compile_scenario(sc, None).months
    evs = scored_decisions(sc.start, months)
    left = [e for e in evs if (until is None or e.month <= until)
            and (after is None or e.month > after)]
    if not left:
        cut = " and ".join(x for x in (f"after {after}" if after else "",
                                       f"up to {until}" if until else "") if x)
        raise TimingError(f"--until/--after: no documented decision {cut} inside the run "
                          f"{sc.start}..{month_label(sc.start, months - 1)} ({len(evs)} in the "
                          "run in all): choose another cut")


def cmd_events(args: argparse.Namespace) -> int:
    from model.inputs.catalog import format_events, load_catalog

    cat = load_catalog()
    try:
        evs = cat.filter(actor=args.actor, kind=args.kind, start=getattr(args, "from"),
                         end=args.to)
    except ValueError as exc:
        raise ModelInputError(f"--from/--to: {exc}") from None
    print(format_events(evs))
    print(f"{len(evs)} event(s)")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from model.inputs.scenario import load_scenario

    bad = 0
    for f in args.files:
        try:
            load_scenario(f)
        except ModelInputError as exc:
            bad += 1
            msg = str(exc)
            print(msg if msg.startswith(str(f)) else f"{f}: {msg}", file=sys.stderr)
        else:
            print(f"{f}: ok")
    if bad:
        print(f"{bad} of {len(args.files)} file(s) invalid", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from model.inputs.scenario import Scenario

    schema = Scenario.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "afpak-abm scenario"
    text = json.dumps(schema, indent=2)
    if args.out:
        from model.io import access

        access.check_outputs({"--out": args.out})
        with access.os_errors(args.out, option="--out"):
            write_text(Path(args.out), text + "\n", fsync=False)
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def _check_compare(args: argparse.Namespace):
    """Every check of ``compare`` before any run: both scenarios, one window for both, --out
    (a folder, not an input), --params and memory. Returns (a, b, params)."""
    from model.inputs.compiled import compile_scenario
    from model.inputs.scenario import load_scenario
    from model.io import access
    from model.io.dates import month_label

    a, b = load_scenario(args.a), load_scenario(args.b)
    ma, mb = compile_scenario(a, None).months, compile_scenario(b, None).months
    if (a.start, ma) != (b.start, mb):
        raise ModelInputError(
            f"{args.a} runs {a.start}..{month_label(a.start, ma)} but {args.b} runs "
            f"{b.start}..{month_label(b.start, mb)}: compare needs the same window (give one "
            f"scenario the other's start and end)")
    params = _params_choice(args.params)
    if args.out:
        access.check_outputs({"--out": args.out},
                             _inputs(args, **{"scenario A": args.a, "scenario B": args.b}),
                             folders={"--out"})
    _check_memory("compare", a, args.runs, 1,
                  "Use fewer --runs (the intervals change little beyond 1,000 runs); for large "
                  "ensembles run each scenario with `run --out` or `python -m model sweep`, "
                  "which stream to disk", ensembles=2, trace=True)
    return a, b, params


def cmd_compare(args: argparse.Namespace) -> int:
    from model.analysis.compare import compare, write
    from model.analysis.robustness import DEFAULT_SETS
    from model.io import access

    a, b, params = _check_compare(args)
    cmp = compare(a, b, runs=args.runs, seed=args.seed, params=params,
                  sets=args.sets or DEFAULT_SETS)
    print(cmp.text())
    if args.out:
        with access.os_errors(args.out, option="--out"):
            paths = write(cmp, Path(args.out))
        print(f"wrote {', '.join(str(p) for p in paths)}")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    groups = sorted({p.group for p in P.table().values()})
    if args.group and args.group not in groups:
        raise ModelInputError(f"--group {args.group}: no such group; the groups are "
                              f"{', '.join(groups)}")
    for name, p in P.table().items():
        if args.group and p.group != args.group:
            continue
        print(f"{name:28s} {p.default:>9g}  [{p.lo:g}, {p.hi:g}]  {p.unit}  ({p.group})")
        if args.verbose:
            print(f"    {p.help}")
    return 0


def _history_path() -> Path:
    from model.io.paths import SCENARIOS

    return SCENARIOS / "history.yaml"


def _params_choice(choice: str):
    """--params: 'auto' (None: the engine's default, the calibrated posterior when one is
    shipped), 'default' (the parameter table's defaults), 'posterior' or a posterior CSV file,
    which is read and checked here (file-access policy, columns, finite numbers in bounds),
    before any work."""
    from model.engine.paramsets import load_posterior, posterior_exists
    from model.io import access

    if choice == "auto":
        return None
    if choice not in PARAMS_WORDS:
        if not choice.endswith(".csv"):
            raise ModelInputError(f"--params {choice}: expected 'default', 'posterior' or a "
                                  f"posterior .csv file")
        access.check_input(choice, access.POSTERIOR, shown=choice)
        load_posterior(choice)
    if choice == "posterior" and not posterior_exists():
        raise ModelInputError("--params posterior: no calibrated posterior is shipped; run "
                              "`python -m model calibrate` first")
    return choice


def _params_label(choice: str) -> str:
    from model.engine.paramsets import posterior_exists

    resolved = _params_choice(choice)
    if resolved is None:  # words only: the engine makes the choice
        resolved = "posterior" if posterior_exists() else "default"
    return {"default": "the parameter table's defaults",
            "posterior": "per-run draws from the calibrated posterior"}.get(resolved, resolved)


def _add_params_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="auto", metavar="default|posterior|FILE",
                   help="parameter sets: the calibrated posterior (default when shipped), the "
                        "table's defaults, or a posterior CSV")


def cmd_calibrate(args: argparse.Namespace) -> int:
    from model.cli.calibrate import cmd_calibrate as run_calibration

    return run_calibration(args)


def _add_run(sub) -> None:
    """The ``run`` command's options."""
    run = sub.add_parser("run", help="run a scenario and print a summary (optionally save the "
                                     "long table)")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--runs", type=_pos_int, default=1,
                     help="runs (default 1; any number: the runs stream, unless --bands, "
                          "which holds them within the memory limit)")
    run.add_argument("--seed", type=_nonneg_int, default=0, help="master seed (0 is a seed)")
    run.add_argument("--months", type=_pos_int, default=None, help="default: the scenario's")
    run.add_argument("--out", help="write the long table to FILE.parquet or FILE.csv")
    run.add_argument("--set", type=_assignment, action="append", metavar="NAME=VALUE",
                     help="override a parameter (repeatable)")
    run.add_argument("--bands", metavar="FILE.csv",
                     help="also write the ensemble's median and 5-95%% bands of every series")
    run.add_argument("--chunk", type=_pos_int, default=1024, help="runs per chunk")
    run.add_argument("--workers", type=_pos_int, default=1, help="processes")
    _add_params_option(run)
    run.set_defaults(func=cmd_run)


def _add_history_check(sub) -> None:
    """The ``history-check`` command's options."""
    hc = sub.add_parser("history-check", help="score the history replay against the record: "
                        "decisions timed, skill against two null models")
    hc.add_argument("--runs", type=_pos_int, default=200,
                    help=f"runs (default 200; held in memory: at most what {limits.LIMIT_ENV}, "
                         f"default {limits.DEFAULT_LIMIT / 1e9:g} GB, allows)")
    hc.add_argument("--seed", type=_nonneg_int, default=0)
    hc.add_argument("--window", type=_nonneg_int, default=6, help="+- months (default 6)")
    hc.add_argument("--workers", type=_pos_int, default=1)
    hc.add_argument("--until", metavar="YYYY-MM",
                    help="score only the decisions documented up to this month (YYYY: December)")
    hc.add_argument("--after", metavar="YYYY-MM",
                    help="score only the decisions documented after this month (YYYY: December)")
    hc.add_argument("--scenario", default=str(_history_path()), help=argparse.SUPPRESS)
    _add_params_option(hc)
    hc.set_defaults(func=cmd_history_check)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m model", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    _add_run(sub)
    _add_history_check(sub)

    ev = sub.add_parser("events", help="list the event catalog with quotes and sources")
    ev.add_argument("--actor", choices=spec.ACTORS)
    ev.add_argument("--kind", choices=("shock", "decision", "context"))
    ev.add_argument("--from", metavar="DATE", help="YYYY or YYYY-MM (inclusive)")
    ev.add_argument("--to", metavar="DATE", help="YYYY or YYYY-MM (inclusive)")
    ev.set_defaults(func=cmd_events)

    val = sub.add_parser("validate", help="validate scenario files (exit 2 if any is invalid)")
    val.add_argument("files", nargs="+")
    val.set_defaults(func=cmd_validate)

    sch = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    sch.add_argument("--out", help="write it to a file instead")
    sch.set_defaults(func=cmd_schema)

    cmp = sub.add_parser("compare", help="compare two scenarios: differences, intervals, why")
    cmp.add_argument("a")
    cmp.add_argument("b")
    cmp.add_argument("--runs", type=_pos_int, default=200,
                     help=f"runs of each scenario (default 200; held in memory: at most what "
                          f"{limits.LIMIT_ENV}, default {limits.DEFAULT_LIMIT / 1e9:g} GB, "
                          f"allows)")
    cmp.add_argument("--seed", type=_nonneg_int, default=0)
    cmp.add_argument("--sets", type=_pos_int, default=None,
                     help="posterior parameter sets shared by A and B, round-robin over the runs "
                          "(default 20): each difference's robustness is the share of sets in "
                          "which it has the same sign")
    cmp.add_argument("--out", help="folder for comparison.csv, summary.md, comparison.png")
    _add_params_option(cmp)
    cmp.set_defaults(func=cmd_compare)

    prm = sub.add_parser("params", help="list the parameter table")
    prm.add_argument("--group", default=None)
    prm.add_argument("-v", "--verbose", action="store_true")
    prm.set_defaults(func=cmd_params)

    from model.cli.calibrate import add_arguments

    cal = sub.add_parser("calibrate", help="fit the parameters to the documented history "
                                           "(history matching + ABC)")
    add_arguments(cal)
    cal.set_defaults(func=cmd_calibrate)

    from model.cli.sweep import add_commands

    add_commands(sub)
    from model.cli.screen import add_commands as add_parsimony_commands

    add_parsimony_commands(sub)
    return parser


def _say(message: str) -> None:
    print(message, file=sys.stderr)


def _failed(exc: BaseException) -> int:
    """The message and exit code of an exception that ended a command (the error boundary)."""
    from model.io import access
    from model.io.atomic import Terminated

    if isinstance(exc, Terminated):
        _say(f"{exc}: stopped; no partial output file was left (sweep and calibrate resume "
             f"where they stopped: see their --help)")
        return exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        _say("interrupted; no partial output file was left (sweep and calibrate resume where "
             "they stopped: see their --help)")
        return 130
    if isinstance(exc, BrokenPipeError):  # e.g. `python -m model schema | head`
        with contextlib.suppress(OSError):  # no "Exception ignored" when Python exits
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if isinstance(exc, ModelInputError):
        _say(f"error: {exc}")
    elif isinstance(exc, OSError):
        _say(f"error: {access.explain_os_error(exc, exc.filename or 'a file', action='use')}")
    elif isinstance(exc, MemoryError):
        _say("error: out of memory. Use fewer --runs; for large ensembles `run --out FILE` "
             "streams to disk, and `python -m model sweep` runs any number of runs in parts")
    elif isinstance(exc, RecursionError):
        _say("error: an input is nested too deeply to read (a structure within a structure "
             "hundreds of levels deep, or a very long chain of files); simplify it")
    else:
        _say(f"internal error (a bug in the model, not a problem with your input): "
             f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip()
             + "\nrerun with --debug to see the traceback, and report it")
        return EXIT_BUG
    return EXIT_BAD_INPUT


def main(argv: list[str] | None = None) -> int:
    """Run one command; every error ends here as a message and an exit code (``_failed``)."""
    import traceback

    from model.io.atomic import terminate_cleanly

    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    with terminate_cleanly():
        try:
            args = build_parser().parse_args(argv)
            debug = bool(getattr(args, "debug", False))
            return args.func(args)
        except SystemExit:
            raise
        except BaseException as exc:  # noqa: BLE001 - the one error boundary of the CLI
            if debug:
                traceback.print_exception(exc, file=sys.stderr)
            try:
                return _failed(exc)
            except KeyboardInterrupt as again:  # a second signal while reporting the first
                return getattr(again, "exit_code", 130)
