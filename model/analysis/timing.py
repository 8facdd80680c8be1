"""Timing score of a history replay: is each documented decision made *near its date*, and do the
model's monthly action probabilities beat two null models at the documented months?

Definitions (``docs/scoring.md`` gives them in prose, with the figures):

- **Window** of a documented decision: its month ±``WINDOW_MONTHS`` for a month or day date, the
  calendar year for a year-only date; where the catalog records conflicting dates for it (a
  ``conflicts:`` record whose accounts all give dates), also the span of the accounts' dates
  ±``WINDOW_MONTHS``. Clipped to the run.
- **share**: the fraction of runs in which the responsible actor chooses the action at least once
  inside the window. **base**: the same probability for a window of the same length placed
  anywhere in the run, averaged over every position and every run (exact, from the ensemble).
- **timed**: share ≥ ``TIMED_MIN_SHARE`` and share − base ≥ ``TIMED_MIN_LIFT``.
- **timing error**: per run, the month of the choice nearest to the documented month minus the
  documented month (ties go to the earlier choice); the median over the runs that choose it at
  all. ``never_share`` is the share of runs that never choose it.
- **Probabilities at the documented months**: ``p_model`` is the share of runs in which the actor
  chooses the action in the documented month; for a year-only date, the mean of that monthly
  share over the months of the year (the same for both nulls). Every probability is clipped to
  [1/(2·runs), 1 − 1/(2·runs)] before scoring.
- **Nulls**, from the same ensemble: the *frequency null* gives each action its monthly frequency
  over the whole run (no timing); the *shock-response null* gives the actor a hostile catalog
  shock hits (its target) its response act with weight ``SHOCK_RESPONSE_WEIGHT`` in the shock's
  month and the next ``SHOCK_RESPONSE_MONTHS`` − 1, otherwise base rates (``response_acts``).
- **Skill**: log-lift = mean over decisions of ln p_model − ln p_null (nats per decision); Brier
  skill = 1 − mean (1 − p_model)² / mean (1 − p_null)². Both are > 0 exactly when the model puts
  more probability on the documented decisions at their documented months than the null does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from model.analysis.history import WINDOW, decision_hits, scored_decisions
from model.core import spec
from model.engine.runner import Results
from model.inputs.catalog import Conflict, Event, load_catalog
from model.io.dates import date_span, month_index, month_label, month_text, parse_date
from model.io.errors import ModelInputError

__all__ = [
    "SHOCK_RESPONSE_MONTHS", "SHOCK_RESPONSE_WEIGHT", "TIMED_MIN_LIFT", "TIMED_MIN_SHARE",
    "WINDOW_MONTHS", "TimingError", "TimingScore", "TimingSummary", "decision_window",
    "format_table", "frequency_null", "model_probabilities", "parse_cut", "response_acts",
    "score_timing", "select_decisions", "shock_response_null", "summary_lines", "timing_summary",
    "timing_table", "window_base_rate",
]

# ------------------------------------------------------------------------ thresholds, one place
#: A month or day date's window: the documented month ± this many months (also the margin around
#: the span of conflicting accounts).
WINDOW_MONTHS = 2
#: Timed: made inside the window in at least this share of runs ...
TIMED_MIN_SHARE = 0.5
#: ... and at least this far above the base rate for a window of the same length.
TIMED_MIN_LIFT = 0.25
#: The shock-response null's lag window: the shock's month and the following months, this many
#: in all (documented responses are dated in the shock's month: Salala and the route closure).
SHOCK_RESPONSE_MONTHS = 3
#: The share of the hit actor's monthly probability the shock-response null puts on its response
#: act inside the lag window; the rest keeps the actor's base rates. 1 would be the pure rule,
#: which the log score would punish with the floor on every other act of the actor after a shock.
SHOCK_RESPONSE_WEIGHT = 0.5
#: The old secondary count: made within ± this many months in a majority of runs.
OLD_WINDOW_MONTHS = WINDOW

_LEADING_DATE_RE = re.compile(r"^\s*(\d{4}(?:-\d{2}(?:-\d{2})?)?)(?![\d-])")


class TimingError(ModelInputError):
    """Bad input to the timing score: a cut date in an unknown format, a cut that leaves no
    documented decision, a decision outside the run."""


# ------------------------------------------------------------------------------------- inputs
def parse_cut(text: str) -> str:
    """A cut date, ``YYYY-MM`` or ``YYYY`` (= December of that year), as ``YYYY-MM``."""
    try:
        precision, year, month, _ = parse_date(text, allow=("year", "month"))
    except ValueError as exc:
        raise TimingError(f"cut date: {exc} (e.g. 2011-12)") from None
    return month_text(year, month if precision == "month" else 12)


def select_decisions(res: Results, until: str | None = None, after: str | None = None,
                     decisions: Iterable[Event] | None = None) -> list[Event]:
    """The documented decisions the timing score covers: those ``scored_decisions`` selects for
    the run, with a documented month up to ``until`` (inclusive) and/or after ``after``
    (exclusive). A cut that leaves none is an error (nothing to score out of sample)."""
    lo = parse_cut(after) if after is not None else None
    hi = parse_cut(until) if until is not None else None
    evs = scored_decisions(res.dates[0], res.months,
                           events=list(decisions) if decisions is not None else None)
    out = [e for e in evs if (hi is None or e.month <= hi) and (lo is None or e.month > lo)]
    if not out and (lo is not None or hi is not None):
        cut = " and ".join(x for x in (f"after {lo}" if lo else "", f"up to {hi}" if hi else "")
                           if x)
        raise TimingError(
            f"no documented decision {cut} inside the run {res.dates[0]}.."
            f"{month_label(res.dates[0], res.months - 1)} "
            f"({len(evs)} in the run in all): choose another cut")
    return out


def _conflict_span(conflict: Conflict) -> tuple[str, str] | None:
    """First and last month the accounts of a date conflict cover (with the value the model
    uses, where it is a date); None where any account's value is not a date."""
    values = [a.value for a in conflict.accounts] + [conflict.model_uses]
    spans = []
    for k, v in enumerate(values):
        m = _LEADING_DATE_RE.match(str(v))
        if m is None:
            if k < len(conflict.accounts):
                return None          # a conflict about something other than the date
            continue
        try:
            spans.append(date_span(m[1]))
        except ValueError:
            return None
    return min(s[0] for s in spans), max(s[1] for s in spans)


def decision_window(event: Event, start: str, months: int,
                    conflicts: Mapping[str, Conflict] | None = None) -> tuple[int, int]:
    """First and last month index (inclusive, clipped to the run) of a decision's window."""
    try:
        precision, year, _, _ = parse_date(event.date)
    except ValueError as exc:
        raise TimingError(f"decision {event.id!r}: {exc}") from None
    m = month_index(start, event.month)
    if precision == "year":
        lo = min(m, month_index(start, month_text(year, 1)))
        hi = max(m, month_index(start, month_text(year, 12)))
    else:
        lo, hi = m - WINDOW_MONTHS, m + WINDOW_MONTHS
    if event.conflict is not None:
        table = conflicts if conflicts is not None else {
            c.id: c for c in load_catalog().conflicts}
        span = _conflict_span(table[event.conflict]) if event.conflict in table else None
        if span is not None:
            lo = min(lo, month_index(start, span[0]) - WINDOW_MONTHS)
            hi = max(hi, month_index(start, span[1]) + WINDOW_MONTHS)
    return max(lo, 0), min(hi, months - 1)


def _scoring_months(event: Event, start: str, months: int) -> np.ndarray:
    """The months at which a decision's probability is read: its month, or its calendar year."""
    precision, year, _, _ = parse_date(event.date)
    if precision == "year":
        lo, hi = (month_index(start, month_text(year, mm)) for mm in (1, 12))
        idx = np.arange(max(lo, 0), min(hi, months - 1) + 1)
        if idx.size:
            return idx
    return np.array([month_index(start, event.month)])


# ------------------------------------------------------------------------- ensemble statistics
def window_base_rate(chosen: np.ndarray, length: int) -> float:
    """Probability that a window of ``length`` months, placed at any of the positions that fit
    in the run (uniformly), holds at least one choice: the mean over runs and positions of
    ``chosen[r, s:s+length].any()`` for ``chosen`` (runs x months bool)."""
    runs, months = chosen.shape
    if length >= months:
        return float(chosen.any(axis=1).mean())
    csum = np.concatenate([np.zeros((runs, 1), dtype=np.int64),
                           chosen.astype(np.int64).cumsum(axis=1)], axis=1)
    counts = csum[:, length:] - csum[:, :-length]          # runs x (months - length + 1)
    return float((counts > 0).mean())


def model_probabilities(res: Results) -> np.ndarray:
    """months x actions: the share of runs in which each action's actor chose it that month."""
    probs = np.zeros((res.months, spec.N_ACTIONS))
    for actor, (lo, hi) in spec.ACTOR_ACTIONS.items():
        col = res.actions[:, :, spec.ACTOR_INDEX[actor]]
        for a in range(lo, hi):
            probs[:, a] = (col == a).mean(axis=0)
    return probs


def frequency_null(res: Results) -> np.ndarray:
    """months x actions: each action at its monthly frequency over the whole run and every run
    (the model's own frequencies with the timing removed)."""
    return np.broadcast_to(model_probabilities(res).mean(axis=0), (res.months, spec.N_ACTIONS)
                           ).copy()


def response_acts(res: Results) -> dict[str, str]:
    """Each actor's response act in the shock-response null: among its hostile acts (negative
    Goldstein weight), the one the ensemble chooses most often over the whole run, ties going to
    the more negative weight. An actor that never chooses a hostile act has none (and the null
    leaves it at its base rates)."""
    freq = model_probabilities(res).mean(axis=0)
    out = {}
    for actor, (lo, hi) in spec.ACTOR_ACTIONS.items():
        hostile = [a for a in range(lo, hi) if spec.ACTIONS[a].goldstein < 0 and freq[a] > 0]
        if hostile:
            best = max(hostile, key=lambda a: (freq[a], -spec.ACTIONS[a].goldstein))
            out[actor] = spec.ACTIONS[best].name
    return out


def _hostile_shocks(res: Results) -> list[tuple[int, str]]:
    """(month, hit actor) of every hostile catalog shock in the run's scenario, after its edits:
    a catalog event of kind ``shock`` with a negative Goldstein weight and a modelled target."""
    kinds = {e.id: e.kind for e in load_catalog().events}
    out = []
    for ev in res.scenario.all_events(res.months):
        act = spec.ACTIONS[spec.ACTION_INDEX[ev.action]] if ev.action else None
        target = ev.target or (act.target if act else None)
        code = ev.cameo or (act.cameo if act else None)
        if (kinds.get(ev.id) == "shock" and target in spec.ACTOR_INDEX and code is not None
                and spec.goldstein(code) < 0):
            out.append((month_index(res.dates[0], ev.date), target))
    return out


def shock_response_null(res: Results) -> np.ndarray:
    """months x actions: base rates (``frequency_null``), except that in the month of each hostile
    catalog shock and the next ``SHOCK_RESPONSE_MONTHS`` − 1 the actor it hits puts
    ``SHOCK_RESPONSE_WEIGHT`` of its probability on its response act (``response_acts``) and the
    rest on its base rates."""
    probs = frequency_null(res)
    acts = response_acts(res)
    hit = np.zeros((res.months, len(spec.ACTORS)), dtype=bool)
    for m, actor in _hostile_shocks(res):
        hit[max(m, 0):max(m + SHOCK_RESPONSE_MONTHS, 0), spec.ACTOR_INDEX[actor]] = True
    w = SHOCK_RESPONSE_WEIGHT
    for actor, (lo, hi) in spec.ACTOR_ACTIONS.items():
        rows = hit[:, spec.ACTOR_INDEX[actor]]
        if actor not in acts or not rows.any():
            continue
        probs[rows, lo:hi] *= 1.0 - w
        probs[rows, spec.ACTION_INDEX[acts[actor]]] += w
    return probs


# --------------------------------------------------------------------------------- the table
def timing_table(res: Results, until: str | None = None, after: str | None = None,
                 decisions: Iterable[Event] | None = None,
                 conflicts: Mapping[str, Conflict] | None = None) -> pd.DataFrame:
    """One row per documented decision (see the module's docstring for the definitions):
    id, actor, action, date, documented (month), precision, window (``YYYY-MM..YYYY-MM``),
    window_months, share, base, lift, timed, error_months, never_share, p_model, p_freq,
    p_shock, reproduced_6m (the old rule: within ±6 months in a majority of runs)."""
    decs = select_decisions(res, until=until, after=after, decisions=decisions)
    start, months = res.dates[0], res.months
    hits6, offset = decision_hits(res, decs, OLD_WINDOW_MONTHS)
    floor = 1.0 / (2 * res.runs)
    if conflicts is None:
        conflicts = {c.id: c for c in load_catalog().conflicts}
    models = {"p_model": model_probabilities(res), "p_freq": frequency_null(res),
              "p_shock": shock_response_null(res)}
    rows = []
    for d, e in enumerate(decs):
        lo, hi = decision_window(e, start, months, conflicts)
        chosen = res.action_count(e.action)
        share = float(chosen[:, lo:hi + 1].any(axis=1).mean())
        base = window_base_rate(chosen, hi - lo + 1)
        off = offset[:, d]
        at = _scoring_months(e, start, months)
        act = spec.ACTION_INDEX[e.action]
        rows.append({
            "id": e.id, "actor": spec.ACTIONS[act].actor, "action": e.action, "date": e.date,
            "documented": e.month, "precision": e.precision,
            "window": f"{month_label(start, lo)}..{month_label(start, hi)}",
            "window_months": hi - lo + 1, "share": share, "base": base, "lift": share - base,
            "timed": share >= TIMED_MIN_SHARE and share - base >= TIMED_MIN_LIFT,
            "error_months": float(np.nanmedian(off)) if np.isfinite(off).any() else np.nan,
            "never_share": float(np.isnan(off).mean()),
            **{k: float(np.clip(p[at, act].mean(), floor, 1.0 - floor))
               for k, p in models.items()},
            "reproduced_6m": bool(hits6[:, d].mean() > 0.5),
        })
    cols = ["id", "actor", "action", "date", "documented", "precision", "window",
            "window_months", "share", "base", "lift", "timed", "error_months", "never_share",
            "p_model", "p_freq", "p_shock", "reproduced_6m"]
    return pd.DataFrame(rows, columns=cols)


# ------------------------------------------------------------------------------- the summary
@dataclass(frozen=True)
class TimingSummary:
    """The headline: decisions timed, and skill against the two nulls.

    ``log_*`` are mean log scores (ln p, nats per decision; higher is better), ``brier_*`` mean
    Brier scores ((1 − p)², lower is better) of the model and the nulls at the documented months.
    """

    runs: int
    decisions: int
    timed: int
    reproduced_6m: int
    log_model: float
    log_freq: float
    log_shock: float
    brier_model: float
    brier_freq: float
    brier_shock: float
    until: str | None = None
    after: str | None = None

    @property
    def log_lift_freq(self) -> float:
        """Mean ln p_model − ln p_freq over decisions (nats per decision); > 0: model better."""
        return self.log_model - self.log_freq

    @property
    def log_lift_shock(self) -> float:
        """Mean ln p_model − ln p_shock over decisions (nats per decision); > 0: model better."""
        return self.log_model - self.log_shock

    @property
    def brier_skill_freq(self) -> float:
        """1 − Brier(model) / Brier(frequency null); > 0: model better."""
        return _skill(self.brier_model, self.brier_freq)

    @property
    def brier_skill_shock(self) -> float:
        """1 − Brier(model) / Brier(shock-response null); > 0: model better."""
        return _skill(self.brier_model, self.brier_shock)

    @property
    def period(self) -> str:
        """Which decisions were scored, in words."""
        parts = [f"after {self.after}" if self.after else "", f"up to {self.until}"
                 if self.until else ""]
        return " and ".join(p for p in parts if p) or "all in the run"

    def to_dict(self) -> dict:
        """Every field and derived skill, for JSON reports."""
        return {**asdict(self), "log_lift_freq": self.log_lift_freq,
                "log_lift_shock": self.log_lift_shock, "brier_skill_freq": self.brier_skill_freq,
                "brier_skill_shock": self.brier_skill_shock}


def _skill(score: float, null: float) -> float:
    if not np.isfinite(score) or not np.isfinite(null):
        return float("nan")
    if null == 0:
        return 0.0 if score == 0 else float("-inf")
    return 1.0 - score / null


def timing_summary(table: pd.DataFrame, runs: int, until: str | None = None,
                   after: str | None = None) -> TimingSummary:
    """Counts and skill scores of a ``timing_table``."""
    def mean(values: pd.Series) -> float:
        return float(values.mean()) if len(values) else float("nan")

    return TimingSummary(
        runs=runs, decisions=len(table), timed=int(table["timed"].sum()),
        reproduced_6m=int(table["reproduced_6m"].sum()),
        log_model=mean(np.log(table["p_model"])), log_freq=mean(np.log(table["p_freq"])),
        log_shock=mean(np.log(table["p_shock"])),
        brier_model=mean((1 - table["p_model"]) ** 2),
        brier_freq=mean((1 - table["p_freq"]) ** 2),
        brier_shock=mean((1 - table["p_shock"]) ** 2), until=until, after=after)


@dataclass
class TimingScore:
    """A timing table and its summary; ``text()`` is the printed form."""

    table: pd.DataFrame
    summary: TimingSummary

    def text(self) -> str:
        return format_table(self)


def score_timing(res: Results, until: str | None = None, after: str | None = None,
                 decisions: Iterable[Event] | None = None) -> TimingScore:
    """Score a history ensemble's timing: the table and its summary (``until``/``after``: score
    only the decisions up to a cut, or after it; see ``select_decisions``)."""
    until = parse_cut(until) if until is not None else None
    after = parse_cut(after) if after is not None else None
    table = timing_table(res, until=until, after=after, decisions=decisions)
    return TimingScore(table, timing_summary(table, res.runs, until=until, after=after))


# -------------------------------------------------------------------------------- formatting
def _num(v: float, fmt: str) -> str:
    return "-" if not np.isfinite(v) else format(v, fmt)


def summary_lines(s: TimingSummary) -> list[str]:
    """The summary as printed: timed count, log and Brier skill vs each null, the old count."""
    return [
        f"timed={s.timed}/{s.decisions}  (decisions: {s.period}; made inside the window in "
        f">= {TIMED_MIN_SHARE:.0%} of runs and >= {TIMED_MIN_LIFT * 100:.0f} points above the "
        "base rate)",
        f"log score (mean ln p, nats per decision): model {_num(s.log_model, '.3f')}, frequency "
        f"null {_num(s.log_freq, '.3f')}, shock-response null {_num(s.log_shock, '.3f')}",
        f"Brier score (mean (1-p)^2): model {_num(s.brier_model, '.3f')}, frequency null "
        f"{_num(s.brier_freq, '.3f')}, shock-response null {_num(s.brier_shock, '.3f')}",
        f"skill vs frequency null:      log-lift {_num(s.log_lift_freq, '+.3f')} nats per "
        f"decision, Brier skill {_num(s.brier_skill_freq, '+.3f')}",
        f"skill vs shock-response null: log-lift {_num(s.log_lift_shock, '+.3f')} nats per "
        f"decision, Brier skill {_num(s.brier_skill_shock, '+.3f')}",
        "(skill > 0: the model puts more probability on the documented decisions at their "
        "documented months than the null)",
        f"secondary: reproduced within +-{OLD_WINDOW_MONTHS} months in a majority of runs "
        f"{s.reproduced_6m}/{s.decisions}",
        f"runs={s.runs}",
    ]


def format_table(score: TimingScore | pd.DataFrame, summary: TimingSummary | None = None
                 ) -> str:
    """The timing table as text, one decision a line, then the summary lines (from ``score``'s
    summary, or ``summary`` where a bare table is given)."""
    table = score.table if isinstance(score, TimingScore) else score
    summ = score.summary if isinstance(score, TimingScore) else summary
    lines = [f"{'decision':38s} {'action':16s} {'documented':>10s} {'window':>16s} {'share':>5s} "
             f"{'base':>5s} {'timed':>5s} {'error':>5s} {'never':>5s} {'p_mod':>5s} "
             f"{'p_frq':>5s} {'p_shk':>5s}"]
    for r in table.itertuples():
        err = "-" if pd.isna(r.error_months) else f"{r.error_months:+.0f}"
        lines.append(
            f"{r.id[:38]:38s} {r.action[:16]:16s} {r.documented:>10s} {r.window:>16s} "
            f"{r.share:5.2f} {r.base:5.2f} {'yes' if r.timed else '-':>5s} {err:>5s} "
            f"{r.never_share:5.2f} {r.p_model:5.3f} {r.p_freq:5.3f} {r.p_shock:5.3f}")
    lines += [
        "",
        f"window: the documented month +-{WINDOW_MONTHS} (the calendar year for a year-only "
        "date; wider where accounts conflict)",
        "share: runs that make the decision inside its window; base: the same for a window of "
        "that length anywhere in the run",
        "error: median months from the documented month to the nearest choice; never: runs "
        "that never make it",
        "p_mod, p_frq, p_shk: probability of the act in the documented month (mean over the "
        "year for a year-only date)",
        "  under the model, the frequency null and the shock-response null",
    ]
    if summ is not None:
        lines += summary_lines(summ)
    return "\n".join(lines)
