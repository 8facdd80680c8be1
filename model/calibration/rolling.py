"""Out-of-sample check by rolling origin (issue 16): for each cut, fit on the targets up to the
cut with the model's structure frozen (the calibration of ``calibrate --until CUT``, in its own
working folder ``until-CUT``), replay the history with that fit's posterior and score, with the
timing score (``model.analysis.timing``), only the documented decisions after the cut; the same
replay scored on the decisions up to the cut gives the in-sample figures of the same fit.

Command: ``python -m model calibrate --rolling [--cuts 2005-12,2011-12,2016-12]``
(``model.cli.calibrate``). Working folder (under the calibration root, default
``out/calibration/``)::

    until-CUT/                 the fit up to CUT (a calibration store; resumed, never installed)
    rolling/cut-CUT.json       the cut's scores, with the identity they were computed for
    rolling/cut-CUT.csv        the cut's timing table (one row per decision, period in/out)
    rolling/rolling.csv, .md   the table over the cuts

Resumable like the calibration: a fit resumes from its parts, and a cut whose stored scores
carry the same identity (cut, runs, seed, the posterior's checksum, the code fingerprint, the
timing thresholds) is not scored again. Every cut is checked before anything is fitted
(``check_cuts``): a cut in an unknown format, before the history starts, or leaving no
documented decision after it (or none up to it) is a ``RollingError`` and nothing is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.analysis import timing as T
from model.analysis.history import scored_decisions
from model.calibration import posterior as post_io
from model.calibration.fit import Calibration, fit_history, history_settings, workdir
from model.calibration.problem import fingerprint, history_problem, history_scenario
from model.calibration.scoring import history_runs
from model.calibration.settings import CalibrationError
from model.engine.paramsets import Posterior
from model.io import atomic
from model.io.dates import month_index
from model.io.store import file_digest

DEFAULT_CUTS = ("2005-12", "2011-12", "2016-12")
FOLDER = "rolling"
FORMAT = "afpak-rolling/1"
#: Columns of the rolling-origin table (``rolling.csv``); ``_after``: the decisions after the
#: cut (out of sample), ``_in``: those up to it (in sample), both from the same replay.
COLUMNS = ["cut", "targets", "ess", "decisions_after", "timed_after", "log_lift_freq_after",
           "log_lift_shock_after", "brier_skill_freq_after", "brier_skill_shock_after",
           "reproduced_6m_after", "decisions_in", "timed_in", "log_lift_freq_in",
           "log_lift_shock_in", "brier_skill_freq_in", "brier_skill_shock_in", "runs", "seed",
           "budget"]


class RollingError(T.TimingError):
    """A cut the rolling origin cannot use; the message names it and why."""


@dataclass(frozen=True)
class Cut:
    """A checked cut: its month and how many documented decisions lie on each side of it."""

    cut: str
    upto: int
    after: int


def parse_cuts(cuts: str | Iterable[str] | None) -> tuple[str, ...]:
    """Cuts from ``--cuts`` ("2005-12,2011-12" or a sequence; None: ``DEFAULT_CUTS``), each
    ``YYYY-MM`` (or ``YYYY``, December), sorted. Unknown formats and repeats are refused."""
    if cuts is None:
        return DEFAULT_CUTS
    items = [c.strip() for c in (cuts.split(",") if isinstance(cuts, str) else cuts)]
    if not items or any(not c for c in items):
        raise RollingError(f"--cuts {cuts!r}: expected months YYYY-MM separated by commas, "
                           "e.g. 2005-12,2011-12,2016-12")
    out = []
    for c in items:
        try:
            out.append(T.parse_cut(c))
        except T.TimingError as exc:
            why = str(exc).removeprefix("cut date: ")
            raise RollingError(f"--cuts: {c!r} is not a cut date: {why}") from None
    dup = sorted({c for c in out if out.count(c) > 1})
    if dup:
        raise RollingError(f"--cuts: {', '.join(dup)} given more than once")
    return tuple(sorted(out))


def check_cuts(cuts: Sequence[str], seed: int, budget: int | None, **overrides) -> list[Cut]:
    """Check every cut before anything is fitted: the history holds it and documented decisions
    on both sides of it, and the fit up to it can be set up (``RollingError`` or
    ``CalibrationError`` naming the cut)."""
    sc = history_scenario()
    decisions = scored_decisions(sc.start, sc.months)
    first, last = min(e.month for e in decisions), max(e.month for e in decisions)
    out = []
    for cut in cuts:
        if month_index(sc.start, cut) < 0:
            raise RollingError(f"--cuts {cut}: before the history starts ({sc.start})")
        upto = sum(e.month <= cut for e in decisions)
        after = len(decisions) - upto
        if not after:
            raise RollingError(f"--cuts {cut}: no documented decision after it (the last is "
                               f"dated {last}); choose an earlier cut")
        if not upto:
            raise RollingError(f"--cuts {cut}: no documented decision up to it (the first is "
                               f"dated {first}); choose a later cut")
        try:
            history_settings(cut, seed, budget, **overrides)
            history_problem(cut)
        except CalibrationError as exc:
            raise RollingError(f"--cuts {cut}: {exc}") from None
        out.append(Cut(cut, upto, after))
    return out


def _identity(cut: str, cal: Calibration, posterior: Path, runs: int, seed: int) -> dict:
    return {"format": FORMAT, "cut": cut, "runs": runs, "seed": seed,
            "posterior_sha256": file_digest(posterior), "code": fingerprint(),
            "budget": cal.settings.budget,
            "timing": {"window_months": T.WINDOW_MONTHS, "min_share": T.TIMED_MIN_SHARE,
                       "min_lift": T.TIMED_MIN_LIFT, "shock_months": T.SHOCK_RESPONSE_MONTHS,
                       "shock_weight": T.SHOCK_RESPONSE_WEIGHT}}


def _stored(path: Path, identity: dict) -> dict | None:
    """The stored scores at ``path`` when they were computed for ``identity`` (else None: a
    missing, unreadable or other file is simply computed again)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("identity") != identity:
        return None
    return data if isinstance(data.get("row"), dict) else None


def _row(cut: str, cal: Calibration, ins: T.TimingSummary, out: T.TimingSummary, runs: int,
         seed: int) -> dict:
    row = {"cut": cut, "targets": len(cal.problem.targets), "ess": round(float(cal.ess), 1)}
    for suffix, s in (("after", out), ("in", ins)):
        row |= {f"decisions_{suffix}": s.decisions, f"timed_{suffix}": s.timed,
                f"log_lift_freq_{suffix}": s.log_lift_freq,
                f"log_lift_shock_{suffix}": s.log_lift_shock,
                f"brier_skill_freq_{suffix}": s.brier_skill_freq,
                f"brier_skill_shock_{suffix}": s.brier_skill_shock}
    row["reproduced_6m_after"] = out.reproduced_6m
    return row | {"runs": runs, "seed": seed, "budget": cal.settings.budget}


def score_cut(cut: str, cal: Calibration, runs: int, seed: int) -> tuple[dict, pd.DataFrame]:
    """Replay the history with ``cal``'s posterior (``runs`` runs, ``seed``) and score the
    decisions after ``cut`` (out of sample) and up to it (in sample): the table row and the
    per-decision timing table (column ``period``: in/out)."""
    post = Posterior(frame=cal.posterior_frame(), path=Path(f"until-{cut}"))
    res = history_runs(post, runs, seed)
    ins, out = T.score_timing(res, until=cut), T.score_timing(res, after=cut)
    table = pd.concat([ins.table.assign(period="in"), out.table.assign(period="out")],
                      ignore_index=True)
    return _row(cut, cal, ins.summary, out.summary, runs, seed), table


def cut_paths(root: Path, cut: str) -> tuple[Path, Path]:
    """The stored scores and timing table of ``cut`` under calibration root ``root``."""
    folder = Path(root) / FOLDER
    return folder / f"cut-{cut}.json", folder / f"cut-{cut}.csv"


def run_cut(cut: str, root: Path, seed: int, budget: int | None, runs: int, fresh: bool,
            progress: bool, note=None, **overrides) -> dict:
    """One cut: its fit (resumed; ``fresh``: started over), its posterior in the fit's working
    folder, and its scores (read back when stored for the same identity, else computed and
    stored). Returns the table row."""
    cal = fit_history(cut, seed, budget, root, resume=True, fresh=fresh, progress=progress,
                      **overrides)
    posterior, _ = post_io.save(cal, workdir(root, cut))
    identity = _identity(cut, cal, posterior, runs, seed)
    json_path, csv_path = cut_paths(root, cut)
    stored = None if fresh else _stored(json_path, identity)
    if stored is not None:
        return stored["row"]
    if note is not None:
        note(f"scoring {cut}")
    row, table = score_cut(cut, cal, runs, seed)
    atomic.write_csv(csv_path, table, lineterminator="\n")
    atomic.write_text(json_path, json.dumps({"identity": identity, "row": row}, indent=1)
                      + "\n")
    return row


def run_rolling(cuts: Sequence[Cut], root: Path, seed: int, budget: int | None, runs: int,
                fresh: bool = False, progress: bool = True, **overrides) -> pd.DataFrame:
    """The rolling origin over checked ``cuts`` (``check_cuts``): each cut's fit and scores
    (``run_cut``), with a progress bar over the cuts; the table, also written as
    ``rolling/rolling.csv`` and ``rolling/rolling.md`` under ``root``."""
    from model.calibration.report import rolling_lines

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(cuts), desc="rolling origin", unit="cut", dynamic_ncols=True)
    rows = []
    try:
        for c in cuts:
            if bar is not None:
                bar.set_postfix_str(f"fit up to {c.cut}", refresh=True)
            rows.append(run_cut(c.cut, root, seed, budget, runs, fresh, progress,
                                note=bar.set_postfix_str if bar is not None else None,
                                **overrides))
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    table = pd.DataFrame(rows, columns=COLUMNS)
    folder = Path(root) / FOLDER
    atomic.write_csv(folder / "rolling.csv", table, lineterminator="\n")
    atomic.write_text(folder / "rolling.md", "\n".join(rolling_lines(table)) + "\n")
    return table


def load_table(root: Path) -> pd.DataFrame | None:
    """The rolling-origin table stored under calibration root ``root`` (None when there is none
    or it is not readable)."""
    try:
        table = pd.read_csv(Path(root) / FOLDER / "rolling.csv", dtype={"cut": str})
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    return table if list(table.columns) == COLUMNS else None


def _f(v: float) -> str:
    return "-" if pd.isna(v) else f"{v:+.3f}"


def summary_lines(table: pd.DataFrame) -> list[str]:
    """The table in words, one cut a line (as the command prints it)."""
    return [f"  cut {r.cut}: after it timed {r.timed_after}/{r.decisions_after}, log-lift vs "
            f"frequency null {_f(r.log_lift_freq_after)}, vs shock-response null "
            f"{_f(r.log_lift_shock_after)}, Brier skill {_f(r.brier_skill_freq_after)} / "
            f"{_f(r.brier_skill_shock_after)}; in sample timed {r.timed_in}/{r.decisions_in}, "
            f"log-lift vs frequency null {_f(r.log_lift_freq_in)}"
            for r in table.itertuples()]
