"""Command line: ``python -m model COMMAND ...``.

Every command validates its inputs before it runs anything; bad input prints a located message
to stderr and exits with code 2, leaving no partial output file.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from model.cli.argtypes import nonneg_int as _nonneg_int
from model.cli.argtypes import pos_int as _pos_int
from model.core import params as P
from model.core import spec
from model.io.errors import ModelInputError

EXIT_BAD_INPUT = 2


class _Parser(argparse.ArgumentParser):
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


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it into place only on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        tmp_path.replace(path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_table(chunks, out: Path) -> int:
    """Stream each chunk's long table to ``out`` (.parquet or .csv); returns rows written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 0
    with atomic_output(out) as tmp:
        if out.suffix == ".parquet":
            writer = None
            try:
                for res in chunks:
                    table = pa.Table.from_pandas(res.to_frame(), preserve_index=False)
                    if writer is None:
                        writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
                    writer.write_table(table)
                    rows += table.num_rows
            finally:
                if writer is not None:
                    writer.close()
        else:
            first = True
            for res in chunks:
                df = res.to_frame()
                df.to_csv(tmp, mode="w" if first else "a", header=first, index=False)
                first = False
                rows += len(df)
    return rows


class _Summary:
    """Running summary over chunks, so printing needs no second pass over the runs."""

    KEY_PAIRS = (("PAK_MIL", "US"), ("US", "PAK_MIL"), ("PAK_CIV", "US"), ("US", "PAK_CIV"))
    KEY_ACTIONS = ("US_MIL_AID", "US_CIV_AID", "US_SUSPEND_AID", "US_STRIKE", "MIL_COOPERATE",
                   "MIL_HEDGE", "MIL_CLOSE_ROUTE", "MIL_REOPEN_ROUTE", "MIL_EVICT_DRONES",
                   "MIL_MEDIATE", "CIV_SEEK_BACKING", "TAL_ATTACK")

    def __init__(self) -> None:
        self.final: dict[str, list[np.ndarray]] = {}
        self.runs = 0
        self.dates: list[str] = []
        self.scenario = None

    def add(self, res) -> None:
        self.runs += res.runs
        self.dates = res.dates
        self.scenario = res.scenario
        for a, b in self.KEY_PAIRS:
            self.final.setdefault(f"trust {a}->{b}", []).append(res.trust_series(a, b)[:, -1])
        for k, (d, rcp) in enumerate(spec.AID_FLOWS):
            total = res.aid[:, 1:, k].astype(np.float64).sum(axis=1) / 1000.0
            self.final.setdefault(f"total aid {d}->{rcp} ($bn)", []).append(total)
        closed = (res.state[:, 1:, spec.STATE_INDEX["supply_route_open"]] < 0.5).sum(axis=1)
        self.final.setdefault("months supply route closed", []).append(closed)
        self.final.setdefault("public hostility (final)", []).append(
            res.state[:, -1, spec.STATE_INDEX["public_hostility"]])
        for act in self.KEY_ACTIONS:
            self.final.setdefault(f"{act} (times)", []).append(res.action_count(act).sum(axis=1))

    def text(self) -> str:
        lines = [f"scenario {self.scenario.name!r}: {self.runs} run(s), "
                 f"{self.dates[0]} .. {self.dates[-1]} ({len(self.dates) - 1} months)",
                 f"{'quantity':40s} {'median':>9s} {'5%':>9s} {'95%':>9s}"]
        for name, parts in self.final.items():
            v = np.concatenate(parts).astype(np.float64)
            q5, q50, q95 = np.quantile(v, [0.05, 0.5, 0.95])
            lines.append(f"{name:40s} {q50:9.3f} {q5:9.3f} {q95:9.3f}")
        return "\n".join(lines)


def cmd_run(args: argparse.Namespace) -> int:
    from model.engine.runner import iter_chunks
    from model.inputs.compiled import compile_scenario
    from model.inputs.scenario import load_scenario

    sc = load_scenario(args.scenario)
    overrides = dict(args.set or [])
    for k, v in overrides.items():
        P.check(k, v, where="--set")
    compile_scenario(sc, args.months)  # validates --months against the scenario
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix not in (".parquet", ".csv"):
        raise ModelInputError(f"--out {args.out}: expected a file ending in .parquet or .csv")
    summary = _Summary()
    bands = Path(args.bands) if args.bands else None
    if bands is not None and bands.suffix != ".csv":
        raise ModelInputError(f"--bands {args.bands}: expected a file ending in .csv")
    kept = []  # the chunks, kept only when bands (quantiles over all runs) are wanted

    def chunks():
        for res in iter_chunks(sc, runs=args.runs, seed=args.seed, months=args.months,
                               params=_params_choice(args.params), overrides=overrides,
                               chunk=args.chunk, workers=args.workers):
            summary.add(res)
            if bands is not None:
                kept.append(res)
            yield res

    if out is not None:
        rows = write_table(chunks(), out)
        print(f"wrote {rows:,} rows to {out}")
    else:
        for _ in chunks():
            pass
    print(summary.text())
    if bands is not None:
        from model.engine.runner import concat

        with atomic_output(bands) as tmp:
            concat(kept).bands().to_csv(tmp, index=False)
        print(f"wrote the median and 5-95% bands of every series to {bands}")
    return 0


def cmd_history_check(args: argparse.Namespace) -> int:
    from model.analysis.history import score
    from model.engine.runner import simulate
    from model.inputs.scenario import load_scenario

    sc = load_scenario(args.scenario)
    res = simulate(sc, runs=args.runs, seed=args.seed, workers=args.workers,
                   params=_params_choice(args.params))
    print(f"parameters: {_params_label(args.params)}")
    print(score(res, window=args.window).text())
    return 0


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
        with atomic_output(Path(args.out)) as tmp:
            tmp.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from model.analysis.compare import compare, plot
    from model.inputs.scenario import load_scenario

    a, b = load_scenario(args.a), load_scenario(args.b)
    out = Path(args.out) if args.out else None
    cmp = compare(a, b, runs=args.runs, seed=args.seed, params=_params_choice(args.params))
    print(cmp.text())
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        with atomic_output(out / "comparison.csv") as tmp:
            cmp.table.to_csv(tmp, index=False)
        with atomic_output(out / "summary.md") as tmp:
            tmp.write_text(f"# {cmp.name_a} vs {cmp.name_b}\n\n" + cmp.text() + "\n",
                           encoding="utf-8")
        png = plot(cmp, out / ".comparison.png.part")
        png.replace(out / "comparison.png")
        print(f"wrote {out / 'comparison.csv'}, {out / 'summary.md'}, {out / 'comparison.png'}")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
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
    """--params: 'posterior' (default when a calibrated posterior is shipped), 'default' (the
    parameter table's defaults) or a posterior CSV file."""
    from model.engine.paramsets import posterior_exists

    if choice == "auto":
        return "posterior" if posterior_exists() else "default"
    if choice not in ("default", "posterior") and not Path(choice).is_file():
        raise ModelInputError(f"--params {choice}: expected 'default', 'posterior' or a "
                              f"posterior .csv file")
    if choice == "posterior" and not posterior_exists():
        raise ModelInputError("--params posterior: no calibrated posterior is shipped; run "
                              "`python -m model calibrate` first")
    return choice


def _params_label(choice: str) -> str:
    resolved = _params_choice(choice)
    return {"default": "the parameter table's defaults",
            "posterior": "per-run draws from the calibrated posterior"}.get(resolved, resolved)


def _add_params_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", default="auto", metavar="default|posterior|FILE",
                   help="parameter sets: the calibrated posterior (default when shipped), the "
                        "table's defaults, or a posterior CSV")


def cmd_calibrate(args: argparse.Namespace) -> int:
    from model.calibration.calibrate import cmd_calibrate as run_calibration

    return run_calibration(args)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m model", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario and print a summary (optionally save the "
                                     "long table)")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--runs", type=_pos_int, default=1)
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

    hc = sub.add_parser("history-check", help="score the history replay against the record")
    hc.add_argument("--runs", type=_pos_int, default=200)
    hc.add_argument("--seed", type=_nonneg_int, default=0)
    hc.add_argument("--window", type=_nonneg_int, default=6, help="+- months (default 6)")
    hc.add_argument("--workers", type=_pos_int, default=1)
    hc.add_argument("--scenario", default=str(_history_path()), help=argparse.SUPPRESS)
    _add_params_option(hc)
    hc.set_defaults(func=cmd_history_check)

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
    cmp.add_argument("--runs", type=_pos_int, default=200)
    cmp.add_argument("--seed", type=_nonneg_int, default=0)
    cmp.add_argument("--out", help="folder for comparison.csv, summary.md, comparison.png")
    _add_params_option(cmp)
    cmp.set_defaults(func=cmd_compare)

    prm = sub.add_parser("params", help="list the parameter table")
    prm.add_argument("--group", default=None)
    prm.add_argument("-v", "--verbose", action="store_true")
    prm.set_defaults(func=cmd_params)

    from model.calibration.calibrate import add_arguments

    cal = sub.add_parser("calibrate", help="fit the parameters to the documented history "
                                           "(history matching + ABC)")
    add_arguments(cal)
    cal.set_defaults(func=cmd_calibrate)

    from model.cli.sweep import add_commands

    add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ModelInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted (long commands resume where they stopped: see --help)",
              file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `python -m model schema | head`
        sys.stderr.close()
        return 0
