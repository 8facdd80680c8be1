"""Summaries of registry outcomes over an ensemble, and of how two ensembles differ in them.

Every number here is an outcome of :mod:`model.analysis.outcomes`; this module only summarises
and words them. A yes/no outcome (``Kind.binary``) is summarised as the share of runs with a 95%
Wilson interval (the Monte Carlo error of the share); a numeric one as the median with the 5-95%
range across runs. ``run``'s summary (:class:`RunSummary`), ``compare``, the dashboard's Compare
page and its lessons (:class:`Question`, :func:`compare_questions`) use them; a comparison run on
a ``model.analysis.robustness`` design also says how each difference holds across parameter
sets.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from model.analysis import outcomes as O
from model.analysis import robustness as R

#: The option of a kind that a question's ``subject`` fills (the first the kind has).
SUBJECT_FIELDS = ("pair", "action", "flow", "var")
#: Short kind names of the dashboard's lesson files and pages, and the kinds they stand for.
ALIASES = {"action": "action_chosen", "trust": "mean_trust", "aid": "mean_aid",
           "state": "mean_state"}


# --- numbers -------------------------------------------------------------------------------------

def wilson(k: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a share k/n (Wilson 1927; scipy's ``binomtest``); (nan, nan)
    for n = 0."""
    if n <= 0:
        return math.nan, math.nan
    ci = binomtest(round(k), int(n)).proportion_ci(confidence_level=confidence,
                                                    method="wilson")
    return max(0.0, float(ci.low)), min(1.0, float(ci.high))


def interval(values: np.ndarray) -> tuple[float, float, float]:
    """(median, 5%, 95%) of an ensemble's values."""
    q5, q50, q95 = np.quantile(np.asarray(values, dtype=np.float64), [0.05, 0.5, 0.95])
    return float(q50), float(q5), float(q95)


def summarise(binary: bool, values: np.ndarray) -> tuple[float, float, float]:
    """(estimate, low, high): the share of runs with its Wilson interval (yes/no values), or the
    median with the 5-95% range; NaNs for no values."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return math.nan, math.nan, math.nan
    if binary:
        lo, hi = wilson(float(v.sum()), v.size)
        return float(v.mean()), lo, hi
    return interval(v)


def paired(outcome: O.Outcome, res_a, res_b) -> np.ndarray:
    """B minus A, run by run: both ensembles must hold the same runs (same seeds, so the
    difference is the scenarios', not the dice's)."""
    if not np.array_equal(res_a.run_ids, res_b.run_ids) or res_a.seed != res_b.seed:
        raise ValueError("paired differences need the same runs (seed and run ids) in both")
    return outcome.compute(res_b) - outcome.compute(res_a)


# --- words ---------------------------------------------------------------------------------------

def _fill(template: str, outcome: O.Outcome) -> str:
    opts: dict[str, Any] = outcome.options.model_dump()
    opts["var_words"] = str(opts.get("var", "")).replace("_", " ")
    return template.format_map(opts)


def noun(outcome: O.Outcome) -> str:
    """What one value of an outcome is, e.g. 'PAK_MIL->US trust' (the kind's ``noun``; its name
    and options when it has none)."""
    kind = O.KINDS[outcome.kind]
    if kind.noun:
        return _fill(kind.noun, outcome)
    opts = [str(v) for k, v in outcome.options.model_dump().items()
            if k in SUBJECT_FIELDS and v is not None]
    return " ".join([outcome.kind, *opts])


def claim(outcome: O.Outcome) -> str:
    """The statement a yes/no outcome's share is a share of, e.g. 'the supply route is closed
    at some point'."""
    kind = O.KINDS[outcome.kind]
    return _fill(kind.claim, outcome) if kind.claim else f"{noun(outcome)} holds"


def period_text(start: str, end: str) -> str:
    """'2012' for a calendar year, '2011-05' for one month, else '2011-05 to 2012-06'."""
    if start[:4] == end[:4] and start[5:] == "01" and end[5:] == "12":
        return start[:4]
    if start == end:
        return start
    return f"{start} to {end}"


def _upper(text: str) -> str:
    return text[:1].upper() + text[1:]


# --- questions over a period ---------------------------------------------------------------------

@dataclass(frozen=True)
class Question:
    """One registry outcome asked of every run over the months ``start``..``end`` (YYYY-MM,
    inclusive, read from the states dated in that window, as the charts show them).

    ``kind``: a kind of :data:`model.analysis.outcomes.KINDS` or a short name of
    :data:`ALIASES` (``route_closed``, ``drones_off``, ``action``, ``action_share``, ``trust``,
    ``aid``, ``state``); ``subject`` fills the kind's pair, action, flow or variable. Raises
    ValueError (an ``OutcomeError``) for an unknown kind, an empty period or a bad subject.
    """

    kind: str
    start: str
    end: str
    subject: str = ""
    outcome: O.Outcome = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        name = ALIASES.get(self.kind, self.kind)
        kind = O.KINDS.get(name)
        if kind is None:
            O.make("q", name)  # raises the registry's message (unknown kind, did you mean)
        fields = kind.options.model_fields
        opts: dict[str, Any] = {"period": [self.start, self.end]}
        if "at" in fields:
            opts["at"] = "start"
        subject = next((f for f in SUBJECT_FIELDS if f in fields), None)
        if subject is not None and (self.subject or fields[subject].is_required()):
            opts[subject] = self.subject
        object.__setattr__(self, "outcome", O.make("q", name, **opts))

    @property
    def binary(self) -> bool:
        return self.outcome.binary

    @property
    def period(self) -> str:
        return period_text(self.start, self.end)

    @property
    def note(self) -> str:
        note = O.KINDS[self.outcome.kind].note
        return f" ({note})" if note else ""

    @property
    def label(self) -> str:
        """A short name for tables, with the period."""
        return f"{noun(self.outcome)}{self.note}, {self.period}"

    @property
    def digits(self) -> int:
        return 0 if "$M" in self.note else 2

    def covered(self, res) -> bool:
        """Whether the run covers the whole period."""
        return res.dates[0] <= self.start and self.end <= res.dates[-1]

    def values(self, res) -> np.ndarray:
        """One value per run (1.0/0.0 for yes/no outcomes); ValueError when the run does not
        cover the period."""
        if not self.covered(res):
            raise ValueError(f"{self.label}: the run covers {res.dates[0]}..{res.dates[-1]} only")
        return self.outcome.compute(res)

    def summary(self, res) -> tuple[float, float, float]:
        """``summarise`` of the values; NaNs when the run does not cover the period."""
        if not self.covered(res):
            return math.nan, math.nan, math.nan
        return summarise(self.binary, self.values(res))


def describe(q: Question, est: tuple[float, float, float]) -> str:
    """'62% of runs (95% CI 52–71%)' or '0.21 [0.15, 0.28]'."""
    m, lo, hi = est
    if math.isnan(m):
        return "not in the run's window"
    if q.binary:
        return f"{m:.0%} of runs (95% CI {lo:.0%}–{hi:.0%})"
    d = q.digits
    return f"{m:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]"


def sentence(q: Question, a: tuple, b: tuple, name_a: str, name_b: str) -> str:
    """One plain-language line comparing a question's summaries under A and B."""
    if math.isnan(a[0]) or math.isnan(b[0]):
        which = name_a if math.isnan(a[0]) else name_b
        return f"{q.label}: not comparable ({which} does not cover {q.period})."
    if q.binary:
        return (f"{_upper(claim(q.outcome))} in {q.period} in {a[0]:.0%} of runs under "
                f"{name_a} and {b[0]:.0%} under {name_b}.")
    d = q.digits

    def f(t: tuple) -> str:
        return f"{t[0]:.{d}f} [{t[1]:.{d}f}, {t[2]:.{d}f}]"

    what = f"{_upper(noun(q.outcome))} in {q.period}{q.note}"
    return f"{what}: {f(a)} under {name_a} vs {f(b)} under {name_b}."


def compare_questions(res_a, res_b, questions: Sequence[Question], name_a: str = "A",
                      name_b: str = "B", design: R.Design | None = None) -> pd.DataFrame:
    """Each question under A and under B with intervals, and a plain-language sentence.

    Columns: outcome, binary, a, a_lo, a_hi, b, b_lo, b_hi, difference (b - a), same_sign,
    robustness, sentence. A question outside a run's window gets NaN there and says so. With a
    ``design`` (both ensembles run on its parameter sets and the same seeds: ``robustness.
    simulate_pair``), ``same_sign`` is the share of sets in which the paired difference has the
    sign of the overall one and ``robustness`` its label, also appended to the sentence; without
    one they are NaN and ``robustness.NOT_MEASURED``.
    """
    rows = []
    for q in questions:
        a, b = q.summary(res_a), q.summary(res_b)
        rob = None
        if design is not None and q.covered(res_a) and q.covered(res_b):
            rob = R.measure(q.values(res_a), q.values(res_b), design)
        text = sentence(q, a, b, name_a, name_b)
        rows.append({"outcome": q.label, "binary": q.binary,
                     "a": a[0], "a_lo": a[1], "a_hi": a[2],
                     "b": b[0], "b_lo": b[1], "b_hi": b[2],
                     "difference": b[0] - a[0],
                     "same_sign": rob.share if rob is not None else math.nan,
                     "robustness": rob.label if rob is not None else R.NOT_MEASURED,
                     "sentence": text + (f" [{rob.text()}]" if rob is not None else "")})
    return pd.DataFrame(rows)


def overlap(res_a, res_b) -> tuple[str, str] | None:
    """The months both runs cover, or None."""
    lo, hi = max(res_a.dates[0], res_b.dates[0]), min(res_a.dates[-1], res_b.dates[-1])
    return (lo, hi) if lo <= hi else None


def _question(spec_: Any, start: str, end: str) -> Question:
    if isinstance(spec_, str):
        return Question(spec_, start, end)
    opts = {k: v for k, v in spec_.items() if k != "kind"}
    subject = next((str(opts[f]) for f in SUBJECT_FIELDS if f in opts), "")
    return Question(spec_["kind"], start, end, subject)


def questions(start: str, end: str, specs: Sequence[Any] | None = None) -> list[Question]:
    """Questions over a period from outcome specs (default the registry's ``QUESTIONS``)."""
    return [_question(s, start, end) for s in (O.QUESTIONS if specs is None else specs)]


def default_questions(start: str, end: str, year: int, pair: str,
                      covered: tuple[str, str] | None = None) -> list[Question]:
    """The registry's standard questions over a period, with trust of a pair in a year third
    (clipped to ``covered``, the months both runs cover; default the period)."""
    lo, hi = covered or (start, end)
    y0, y1 = max(f"{year}-01", lo), min(f"{year}-12", hi)
    if y0 > y1:
        y0, y1 = lo, hi
    out = questions(start, end)
    return [*out[:2], Question("mean_trust", y0, y1, pair), *out[2:]]


# --- run's summary -------------------------------------------------------------------------------

class RunSummary:
    """The median and 5-95% of the registry's ``RUN_SUMMARY`` outcomes, added chunk by chunk so
    that printing needs no second pass over the runs. Only the per-run values are kept (copied,
    so that no chunk's arrays stay alive through a view): memory grows by one float per run and
    quantity, not by the chunks."""

    def __init__(self, rows: Sequence[tuple[str, Any, float]] | None = None) -> None:
        rows = O.RUN_SUMMARY if rows is None else rows
        self.rows = [(label, O.parse({"q": spec_})[0], per) for label, spec_, per in rows]
        self.values: dict[str, list[np.ndarray]] = {label: [] for label, _, _ in self.rows}
        self.runs = 0
        self.dates: list[str] = []
        self.scenario = None

    def add(self, res) -> None:
        self.runs += res.runs
        self.dates = list(res.dates)
        self.scenario = res.scenario
        for label, outcome, per in self.rows:
            vals = np.asarray(outcome.compute(res), dtype=np.float64) / per
            self.values[label].append(np.array(vals, dtype=np.float64, copy=True))

    def text(self) -> str:
        one = self.runs == 1
        lines = [f"scenario {self.scenario.name!r}: {self.runs} run(s), "
                 f"{self.dates[0]} .. {self.dates[-1]} ({len(self.dates) - 1} months)"]
        if one:  # a median and a 5-95% range of one run would only repeat its value
            lines += ["one run: its values (use --runs 200 or more for the median and the "
                      "5-95% range across runs)",
                      f"{'quantity':40s} {'value':>9s}"]
        else:
            lines.append(f"{'quantity':40s} {'median':>9s} {'5%':>9s} {'95%':>9s}")
        for name, parts in self.values.items():
            q50, q5, q95 = interval(np.concatenate(parts))
            lines.append(f"{name:40s} {q50:9.3f}" if one else
                         f"{name:40s} {q50:9.3f} {q5:9.3f} {q95:9.3f}")
        return "\n".join(lines)


class BandsCollector:
    """What ``Results.bands`` needs of every run (trust, aid and state), copied chunk by chunk
    into arrays sized for ``runs`` runs, so that ``run --bands`` keeps neither the chunks nor
    their actions; ``bands()`` gives the same table as ``concat(chunks).bands()``."""

    def __init__(self, runs: int) -> None:
        self.capacity = runs
        self.filled = 0
        self.template = None  # the first chunk emptied: scenario, seed, dates, dtypes
        self.arrays: dict[str, np.ndarray] = {}

    def add(self, res) -> None:
        import dataclasses

        lo, hi = self.filled, self.filled + res.runs
        if hi > self.capacity:
            raise ValueError(f"BandsCollector: more than {self.capacity} runs added")
        if self.template is None:
            empty = {k: getattr(res, k)[:0].copy()
                     for k in ("run_ids", "params", "trust", "aid", "state", "actions")}
            self.template = dataclasses.replace(res, ledger=None, event_ledger=None, **empty)
            self.arrays = {k: np.empty((self.capacity, *getattr(res, k).shape[1:]),
                                       dtype=getattr(res, k).dtype)
                           for k in ("trust", "aid", "state")}
        for k, a in self.arrays.items():
            a[lo:hi] = getattr(res, k)
        self.filled = hi

    def bands(self) -> pd.DataFrame:
        import dataclasses

        if self.template is None:
            raise ValueError("BandsCollector: no runs added")
        n = self.filled
        res = dataclasses.replace(self.template, run_ids=np.arange(n),
                                  **{k: a[:n] for k, a in self.arrays.items()})
        return res.bands()
