"""Which free parameters move the calibration targets at all: Morris screening over the whole
prior, then Sobol indices of the survivors (``python -m model screen``; method and figures in
``docs/parsimony.md``).

**Outputs.** Each calibration target's expected value (the mean over ``replicates`` runs of a
point) in units of its tolerance, ``E f_j / scale_j`` (``scale_j`` = sqrt(sigma_disc^2 +
sigma_obs^2), the unit of the ABC distance and of the implausibility); each family's share of
the ABC distance (``family:NAME``, the weighted RMS of that family's standardised
discrepancies) and the ABC distance itself (``distance``). A parameter's elementary effect on an
output is then "how many tolerances the target moves when the parameter crosses its prior
range" (SALib divides by the step in the unit cube).

**Stages.** (1) Morris elementary effects (Morris 1991; Campolongo, Cariboni & Saltelli 2007):
``trajectories`` one-at-a-time trajectories of ``LEVELS`` levels over the prior box (uniform
over the table's bounds, or calibration.yaml's ``priors``), sampled and analysed by
``SALib.sample.morris`` / ``SALib.analyze.morris``: mu* (mean |EE|), sigma and a bootstrap
interval of mu*. (2) Sobol first-order and total indices (Saltelli 2010 estimators,
``SALib.sample.sobol`` / ``SALib.analyze.sobol``, bootstrap intervals) of the parameters that
survive the rule, the others held at their table defaults.

**Rule** (``RULE``). Normalise mu* per output by the largest mu* of any parameter on that
output. A parameter is *non-influential* when the upper end of its mu* interval, so normalised,
stays below ``threshold`` (default 0.1) on every output: every target, every family and the
distance. Outputs that no parameter moves (max mu* = 0) say nothing and are skipped. Using the
upper end makes the rule conservative: a parameter is fixed only when the data say it is small.

**Noise.** Every point runs the same ``replicates`` random streams (common random numbers: run
``r`` of every point is run id ``r``), so that an elementary effect is a paired difference and
not the gap between two independent samples.

**Resumable.** Runs go in chunks through a ``model.io.store.Store`` in ``out``; a rerun of the
same command computes only the missing chunks (``--fresh`` starts over).

This module imports SALib directly: the sweep machinery that wraps it lives in
``model.experiments``, a sibling layer that ``model.calibration`` may not import.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from model.calibration import targets as TG
from model.calibration.problem import Problem, fingerprint, history_problem, screened_parameters
from model.core import params as P
from model.engine import runner as engine
from model.io import atomic
from model.io.errors import ModelInputError
from model.io.store import Parts, Store, chunk_bounds

FORMAT = "afpak-screening/1"
#: Part files: (stage, chunk); stage 0 = Morris, 1 = Sobol.
PARTS = Parts("parts", "s{:d}-c{:05d}.npz")
MORRIS, SOBOL = 0, 1
#: Files the screening writes in its folder.
RESULTS = ("screening.csv", "morris.csv", "sobol.csv", "summary.txt")
#: The rules of the verdict: a parameter is *non-influential* when, on every output the rule
#: looks at, the upper end of the 95% bootstrap interval of its mu*, divided by the largest mu*
#: of any parameter on that output, is below the threshold. ``targets`` is the rule stated before
#: the first run; the other two are read beside it (docs/parsimony.md says why).
RULES = {
    "targets": "every output: each target, each target family and the ABC distance",
    "aggregate": "the ABC distance and each target family's share of it only",
    "noise": ("every output on which the parameter's mu* stands above the output's noise floor "
              "(mu* minus its interval above the mu* of a no-effect parameter with independent "
              "runs)"),
}
#: Factor fixing by Sobol (Saltelli et al. 2008, the setting in which ST = 0 is necessary and
#: sufficient for a parameter to be fixable): the upper end of ST's interval on the distance
#: and every family below this share of the output's variance.
ST_FIX = 0.01
RULE = ("non-influential: the upper end of the 95% bootstrap interval of mu*, divided by the "
        "largest mu* of any parameter on the same output, is below {t:g} on {where}")


class ScreeningError(ModelInputError):
    """Bad screening settings or a folder that cannot be used."""


@dataclass(frozen=True)
class ScreenSettings:
    """How big the screening is; every field is part of its folder's identity."""

    trajectories: int = 20        # Morris trajectories R: R x (d + 1) points
    sobol: int = 128              # Sobol base samples N: N x (k + 2) points (0: no Sobol stage)
    replicates: int = 8           # runs per point (common random numbers)
    levels: int = 4               # Morris grid levels
    seed: int = 0
    threshold: float = 0.1        # the rule's bound on normalised mu*
    rule: str = "targets"         # which outputs the verdict (and the Sobol survivors) use
    resamples: int = 500          # bootstrap resamples of the intervals
    chunk: int = 2048             # runs per part

    def check(self) -> None:
        bad = [f"{k} = {v} (expected {what})" for k, v, ok, what in (
            ("trajectories", self.trajectories, self.trajectories >= 2, ">= 2"),
            ("sobol", self.sobol, self.sobol == 0 or self.sobol >= 2, "0 or >= 2"),
            ("replicates", self.replicates, self.replicates >= 1, ">= 1"),
            ("levels", self.levels, self.levels >= 2 and self.levels % 2 == 0, "even, >= 2"),
            ("seed", self.seed, self.seed >= 0, ">= 0"),
            ("threshold", self.threshold, 0 < self.threshold < 1, "in (0, 1)"),
            ("rule", self.rule, self.rule in RULES, " or ".join(RULES)),
            ("resamples", self.resamples, self.resamples >= 10, ">= 10"),
            ("chunk", self.chunk, self.chunk >= self.replicates, ">= replicates"))
            if not ok]
        if bad:
            raise ScreeningError("screening settings: " + "; ".join(bad))
        if self.sobol and self.sobol & (self.sobol - 1):
            raise ScreeningError(f"--sobol {self.sobol}: Sobol base samples must be a power of "
                                 f"2 (e.g. 64, 128, 256): the Sobol sequence is balanced only "
                                 f"then")


@dataclass
class Screening:
    """The screening's tables: per parameter (``table``), per parameter and output (``morris``,
    ``sobol``), and what it cost."""

    settings: ScreenSettings
    table: pd.DataFrame
    morris: pd.DataFrame
    sobol: pd.DataFrame
    runs: int
    seconds: float
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------- outputs
def output_names(ts: TG.TargetSet) -> list[str]:
    """The screened outputs: every target, every family present, the ABC distance."""
    fams = [f for f in TG.FAMILIES if ts.family(f).any()]
    return [*ts.ids, *(f"family:{f}" for f in fams), "distance"]


def outputs(mean: np.ndarray, ts: TG.TargetSet) -> np.ndarray:
    """Points x outputs (``output_names``): targets in tolerance units, family distances, the
    ABC distance."""
    d = TG.discrepancy(mean, ts)
    cols = [mean / ts.scale]
    for fam in TG.FAMILIES:
        m = ts.family(fam)
        if m.any():
            w = ts.weights[m]
            cols.append(np.sqrt((d[:, m] ** 2 * w).sum(axis=1) / w.sum())[:, None])
    cols.append(TG.distance(mean, ts)[:, None])
    return np.concatenate(cols, axis=1)


def evaluate(prob: Problem, x: np.ndarray, seed: int, replicates: int
             ) -> tuple[np.ndarray, np.ndarray]:
    """Target means and run-to-run variances of points ``x`` (rows of the free parameters'
    values): each point runs run ids 0 .. replicates-1 (common random numbers)."""
    n = len(x) * replicates
    cols = {k: np.full(n, float(v)) for k, v in prob.params.items()}
    for j, name in enumerate(prob.names):
        cols[name] = np.repeat(np.asarray(x[:, j], dtype=np.float64), replicates)
    ids = np.tile(np.arange(replicates, dtype=np.int64), len(x))
    res = engine.run_block(prob.scenario, seed, ids, cols, months=prob.months)
    return TG.point_summary(TG.evaluate(res, prob.targets), replicates)


# ----------------------------------------------------------------------------------- designs
def salib_problem(names: Sequence[str], lo: np.ndarray, hi: np.ndarray) -> dict:
    return {"num_vars": len(names), "names": list(names),
            "bounds": [[float(a), float(b)] for a, b in zip(lo, hi, strict=True)]}


def morris_design(problem: dict, s: ScreenSettings) -> np.ndarray:
    """Morris trajectories over the prior box (``SALib.sample.morris``)."""
    from SALib.sample import morris as morris_sample

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        return morris_sample.sample(problem, s.trajectories, num_levels=s.levels,
                                    seed=s.seed)


def sobol_design(problem: dict, s: ScreenSettings) -> np.ndarray:
    """Saltelli's design of first and total indices (``SALib.sample.sobol``)."""
    from SALib.sample import sobol as sobol_sample

    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        return sobol_sample.sample(problem, s.sobol, calc_second_order=False, scramble=True,
                                   seed=s.seed)


def full_rows(prob: Problem, names: Sequence[str], x: np.ndarray) -> np.ndarray:
    """Rows over all free parameters: ``x`` for ``names``, table defaults for the others."""
    d = P.defaults()
    out = np.tile(np.array([d[n] for n in prob.names], dtype=np.float64), (len(x), 1))
    for k, n in enumerate(names):
        out[:, prob.names.index(n)] = x[:, k]
    return out


# ------------------------------------------------------------------------------ the run loop
class _Runner:
    """Runs a stage's points chunk by chunk through the store, with a progress bar."""

    def __init__(self, store: Store, prob: Problem, s: ScreenSettings, total: int,
                 progress: bool) -> None:
        self.store, self.prob, self.s = store, prob, s
        self.bar = None
        self.runs = 0
        if progress:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="run", unit_scale=True, dynamic_ncols=True,
                            desc="screen", smoothing=0.1, file=sys.stderr)

    def stage(self, stage: int, x: np.ndarray, tag: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
        """Target means and variances of points ``x``; ``tag`` is stored with each part and
        must match on resume (the Sobol stage's survivors)."""
        per = max(1, self.s.chunk // self.s.replicates)
        means, vars_ = [], []
        for c, (lo, hi) in enumerate(chunk_bounds(len(x), per)):
            key = (stage, c)
            z = None
            if self.store.part_ok(PARTS, key, hi - lo):
                z = self.store.read_arrays(PARTS, key)
                if not np.array_equal(z.get("tag"), tag) or "var" not in z or z[
                        "mean"].shape[1] != len(self.prob.targets):
                    z = None
            if z is None:
                m, v = evaluate(self.prob, x[lo:hi], self.s.seed, self.s.replicates)
                self.store.write_arrays(PARTS, key, {"mean": m, "var": v, "tag": tag})
                self.runs += (hi - lo) * self.s.replicates
                z = {"mean": m, "var": v}
            if self.bar is not None:
                self.bar.update((hi - lo) * self.s.replicates)
            means.append(z["mean"])
            vars_.append(z["var"])
        return np.concatenate(means), np.concatenate(vars_)

    def note(self, text: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _store(out: Path) -> Store:
    return Store(out, FORMAT, (PARTS,), files=RESULTS, key="identity", what="screening",
                 theirs="this screening", error=ScreeningError,
                 hint="; give an empty or new folder as --out")


def identity(prob: Problem, s: ScreenSettings) -> dict:
    """What determines the screening's numbers: settings, problem, code fingerprint."""
    return {"settings": asdict(s), "problem": prob.describe(), "code": fingerprint()}


# ---------------------------------------------------------------------------------- analysis
def noise_floor(var: np.ndarray, ts: TG.TargetSet, s: ScreenSettings) -> np.ndarray:
    """Per output: the mu* that a parameter with no effect would show if the runs of two points
    of a trajectory were independent, E|dy| / delta with dy ~ N(0, 2 var / R) (var: the median
    run-to-run variance over the points, in tolerance units); 0 for the family and distance
    outputs, which have no such variance. Common random numbers make the real noise smaller:
    this is its upper bound."""
    delta = s.levels / (2.0 * (s.levels - 1))
    v = np.median(var, axis=0) / ts.scale ** 2
    tgt = np.sqrt(2.0 * v / s.replicates) * np.sqrt(2.0 / np.pi) / delta
    n_agg = len(output_names(ts)) - len(ts)
    return np.concatenate([tgt, np.zeros(n_agg)])


def morris_indices(problem: dict, x: np.ndarray, y: np.ndarray, names_out: Sequence[str],
                   s: ScreenSettings, noise: np.ndarray | None = None) -> pd.DataFrame:
    """mu*, its interval, sigma and normalised mu* of every parameter on every output, and
    whether mu* stands above the output's ``noise`` floor (``signal``)."""
    from SALib.analyze import morris as morris_analyze

    frames = []
    for k, name in enumerate(names_out):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = morris_analyze.analyze(problem, x, np.ascontiguousarray(y[:, k]),
                                       num_resamples=s.resamples, conf_level=0.95,
                                       num_levels=s.levels,
                                       seed=np.random.default_rng([s.seed, k]))
        mu_star = np.nan_to_num(np.asarray(r["mu_star"], dtype=float))
        conf = np.nan_to_num(np.asarray(r["mu_star_conf"], dtype=float))
        top = mu_star.max()
        frames.append(pd.DataFrame({
            "parameter": problem["names"], "output": name, "mu_star": mu_star,
            "mu_star_conf": conf, "sigma": np.nan_to_num(np.asarray(r["sigma"], dtype=float)),
            "mu": np.asarray(r["mu"], dtype=float),
            "norm": mu_star / top if top > 0 else np.nan,
            "norm_upper": (mu_star + conf) / top if top > 0 else np.nan,
            "noise": 0.0 if noise is None else float(noise[k]),
            "signal": mu_star - conf > (0.0 if noise is None else float(noise[k]))}))
    return pd.concat(frames, ignore_index=True)


def sobol_indices(problem: dict, y: np.ndarray, names_out: Sequence[str],
                  s: ScreenSettings) -> pd.DataFrame:
    """S1 and ST with bootstrap intervals of every surviving parameter on every output."""
    from SALib.analyze import sobol as sobol_analyze

    frames = []
    for k, name in enumerate(names_out):
        yk = np.ascontiguousarray(y[:, k])
        if np.ptp(yk) == 0:
            nan = np.full(problem["num_vars"], np.nan)
            r = {"S1": nan, "S1_conf": nan, "ST": nan, "ST_conf": nan}
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                r = sobol_analyze.analyze(problem, yk, calc_second_order=False,
                                          num_resamples=s.resamples, conf_level=0.95,
                                          seed=np.random.default_rng([s.seed, k]))
        frames.append(pd.DataFrame({
            "parameter": problem["names"], "output": name, "S1": r["S1"],
            "S1_conf": r["S1_conf"], "ST": r["ST"], "ST_conf": r["ST_conf"]}))
    return pd.concat(frames, ignore_index=True)


def verdicts(morris: pd.DataFrame, threshold: float, rule: str = "targets") -> pd.Series:
    """Per parameter: True when influential by ``rule`` (``RULES``)."""
    seen = morris.dropna(subset=["norm_upper"])
    if rule == "aggregate":
        seen = seen[seen["output"].str.startswith(("family:", "distance"))]
    hit = seen["norm_upper"] >= threshold
    if rule == "noise":
        hit &= seen["signal"].astype(bool)
    infl = hit.groupby(seen["parameter"], sort=False).any()
    return infl.reindex(morris["parameter"].unique(), fill_value=False)


def summary_table(prob: Problem, morris: pd.DataFrame, sobol: pd.DataFrame,
                  threshold: float, rule: str = "targets") -> pd.DataFrame:
    """One row per parameter (free and fixed): group, Morris on the distance and over the
    targets, ranks, Sobol on the distance and the largest total index over outputs, verdict."""
    tab = P.table()
    g = morris.groupby("parameter", sort=False)
    dist = morris[morris["output"] == "distance"].set_index("parameter")
    df = pd.DataFrame({"parameter": list(prob.names)})
    df["group"] = [tab[n].group for n in df["parameter"]]
    df["mu_star"] = df["parameter"].map(dist["mu_star"])
    df["mu_star_conf"] = df["parameter"].map(dist["mu_star_conf"])
    df["sigma"] = df["parameter"].map(dist["sigma"])
    df["norm_max"] = df["parameter"].map(g["norm"].max())
    df["norm_upper_max"] = df["parameter"].map(g["norm_upper"].max())
    df["norm_mean"] = df["parameter"].map(g["norm"].mean())
    top = morris.loc[morris["norm"].fillna(-1).groupby(morris["parameter"]).idxmax()]
    df["top_output"] = df["parameter"].map(top.set_index("parameter")["output"])
    df["rank_mean"] = df["norm_mean"].rank(ascending=False, method="min").astype(int)
    df["rank_max"] = df["norm_max"].rank(ascending=False, method="min").astype(int)
    df["rank_distance"] = df["mu_star"].rank(ascending=False, method="min").astype(int)
    for col in ("S1", "S1_conf", "ST", "ST_conf"):
        df[col] = np.nan
    df["ST_max"] = np.nan
    df["ST_max_output"] = ""
    df["ST_upper_aggregate"] = np.nan
    if len(sobol):
        sd = sobol[sobol["output"] == "distance"].set_index("parameter")
        for col in ("S1", "S1_conf", "ST", "ST_conf"):
            df[col] = df["parameter"].map(sd[col])
        ok = sobol.dropna(subset=["ST"])
        best = ok.loc[ok.groupby("parameter")["ST"].idxmax()].set_index("parameter")
        df["ST_max"] = df["parameter"].map(best["ST"])
        df["ST_max_output"] = df["parameter"].map(best["output"]).fillna("")
        agg = ok[ok["output"].str.startswith(("family:", "distance"))]
        df["ST_upper_aggregate"] = df["parameter"].map(
            (agg["ST"] + agg["ST_conf"]).groupby(agg["parameter"]).max())
    for name in RULES:
        df[f"influential_{name}"] = df["parameter"].map(verdicts(morris, threshold, name))
    df["verdict"] = np.where(df[f"influential_{rule}"], "influential", "non-influential")
    fixed = pd.DataFrame({"parameter": [n for n in P.fixed() if n not in set(df["parameter"])],
                          "verdict": "fixed in the table"})
    fixed["group"] = [tab[n].group for n in fixed["parameter"]]
    df = df.sort_values(["rank_mean", "parameter"], kind="stable")
    return pd.concat([df, fixed], ignore_index=True)


# ------------------------------------------------------------------------------------- entry
def screen(out: str | Path, s: ScreenSettings, fresh: bool = False, progress: bool = True,
           problem: Problem | None = None) -> Screening:
    """Run (or resume) the screening in folder ``out``; see the module docstring.

    ``problem``: the calibration problem (default: the full history, ``history_problem``).
    """
    s.check()
    t0 = time.perf_counter()
    prob = problem if problem is not None else history_problem(names=screened_parameters())
    out = Path(out)
    store = _store(out)
    store.open({"identity": identity(prob, s)}, fresh=fresh)
    try:
        res = _stages(store, prob, s, progress)
        res.seconds = time.perf_counter() - t0
        res.notes = _notes(res, s.trajectories * (prob.dim + 1),
                           int((res.table["verdict"] == "influential").sum()))
        res.files = write(res, out)
    finally:
        store.unlock()
    return res


def _stages(store: Store, prob: Problem, s: ScreenSettings, progress: bool) -> Screening:
    """Morris on every free parameter, then Sobol on the survivors, through the store."""
    names_out = output_names(prob.targets)
    pm = salib_problem(prob.names, prob.lo, prob.hi)
    xm = morris_design(pm, s)
    run = _Runner(store, prob, s, len(xm) * s.replicates, progress)
    try:
        run.note("Morris")
        mm, vm = run.stage(MORRIS, xm, np.zeros(0, dtype=np.int64))
        morris = morris_indices(pm, xm, outputs(mm, prob.targets), names_out, s,
                                noise_floor(vm, prob.targets, s))
        infl = verdicts(morris, s.threshold, s.rule)
        survivors = [n for n in prob.names if infl[n]]
        sobol = pd.DataFrame(columns=["parameter", "output", "S1", "S1_conf", "ST", "ST_conf"])
        if s.sobol and survivors:
            if run.bar is not None:
                run.bar.total += s.sobol * (len(survivors) + 2) * s.replicates
            run.note(f"Sobol ({len(survivors)} survivors)")
            ps = salib_problem(survivors, *_bounds(prob, survivors))
            xs = sobol_design(ps, s)
            tag = np.array([prob.names.index(n) for n in survivors], dtype=np.int64)
            ys = outputs(run.stage(SOBOL, full_rows(prob, survivors, xs), tag)[0],
                         prob.targets)
            sobol = sobol_indices(ps, ys, names_out, s)
    finally:
        run.close()
    table = summary_table(prob, morris, sobol, s.threshold, s.rule)
    return Screening(settings=s, table=table, morris=morris, sobol=sobol, runs=run.runs,
                     seconds=0.0)


def _bounds(prob: Problem, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    idx = [prob.names.index(n) for n in names]
    return prob.lo[idx], prob.hi[idx]


def _notes(res: Screening, morris_points: int, survivors: int) -> list[str]:
    s = res.settings
    notes = [f"Morris: {s.trajectories} trajectories x (d + 1) = {morris_points:,} points x "
             f"{s.replicates} runs (common random numbers), {s.levels} levels",
             f"rule ({s.rule}): " + RULE.format(t=s.threshold, where=RULES[s.rule])]
    if s.trajectories < 10:
        notes.append(f"warning: {s.trajectories} Morris trajectories is below 10: mu* and its "
                     f"interval are rough at this size")
    if s.sobol:
        notes.append(f"Sobol: N = {s.sobol} base samples x ({survivors} survivors + 2) points x "
                     f"{s.replicates} runs; the other parameters at their table defaults")
        if s.sobol < 256:
            notes.append(f"warning: N = {s.sobol} Sobol base samples is below 256: read S1 and "
                         f"ST with their intervals (wide at this size)")
    notes.append(f"runs computed now: {res.runs:,} (the rest read back from the folder); "
                 f"wall time {res.seconds:.0f} s")
    return notes


def write(res: Screening, out: Path) -> list[Path]:
    """``screening.csv`` (per parameter), ``morris.csv`` and ``sobol.csv`` (per parameter and
    output) and ``summary.txt`` (the printed summary) in ``out``."""
    files = [atomic.write_csv(out / "screening.csv", res.table),
             atomic.write_csv(out / "morris.csv", res.morris),
             atomic.write_csv(out / "sobol.csv", res.sobol)]
    files.append(atomic.write_text(out / "summary.txt", summary_text(res) + "\n"))
    return files


def summary_text(res: Screening, top: int = 30) -> str:
    """The printed summary: the ranking, the parameters below the rule, Sobol on the distance."""
    t = res.table
    free = t[t["verdict"] != "fixed in the table"]
    low = free[free["verdict"] == "non-influential"]
    cols = ["parameter", "group", "norm_mean", "norm_max", "norm_upper_max", "mu_star",
            "sigma", "S1", "ST", "ST_max", "top_output"]
    lines = [f"Morris ranking of {len(free)} free parameters by norm_mean (norm: mu* / largest "
             f"mu* on the same output; mean and max over {res.morris['output'].nunique()} "
             f"outputs; mu*, sigma, S1, ST: on the ABC distance; ST_max: largest total index "
             f"over outputs)",
             free[cols].head(top).to_string(index=False, float_format=lambda v: f"{v:.3f}")]
    if len(free) > top:
        lines.append(f"... {len(free) - top} more in screening.csv")
    rule = res.settings.rule
    lines += ["", f"{len(low)} of {len(free)} free parameters are non-influential by the rule "
              f"({rule}); {len(free) - len(low)} survive:", ", ".join(low["parameter"]) or
              "(none)"]
    for name, where in RULES.items():
        if name != rule:
            other = free[~free[f"influential_{name}"].astype(bool)]
            lines.append(f"by rule {name} ({where}): {len(other)} non-influential: "
                         + (", ".join(other["parameter"]) or "(none)"))
    if free["ST_upper_aggregate"].notna().any():
        low_st = free[free["ST_upper_aggregate"] < ST_FIX]
        lines.append(f"Sobol (factor fixing, Saltelli et al. 2008): {len(low_st)} of the "
                     f"{int(free['ST_upper_aggregate'].notna().sum())} parameters of the Sobol "
                     f"stage have ST + its interval below {ST_FIX:g} on the distance and every "
                     f"family: " + (", ".join(low_st["parameter"]) or "(none)"))
    lines += ["", *res.notes]
    return "\n".join(lines)
