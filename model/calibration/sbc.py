"""Simulation-based calibration (SBC; Cook, Gelman & Rubin 2006; Talts et al. 2018) of the
calibration method: does its posterior cover the truth as often as it claims?

For history k = 0 .. N-1: a "true" parameter set theta*_k is drawn from the prior (uniform over
the prior box; stream ``(k, 21)`` of the SBC seed), a synthetic documented record is made from it
(each target's value z*_j = the mean of ``replicates`` runs of the history at theta*_k, run ids
from ``OBS_BASE``: the summary the method itself compares, so that the synthetic record comes from
the model the method assumes), and the method is fitted to it from the prior (seed derived from
the SBC seed and k, other streams than the record's). For each parameter, the rank of the truth
is its posterior CDF there (sum of the weights of the sets below it). If the method is
calibrated, ranks are uniform on [0, 1], and the central p-interval (weighted quantiles
(1-p)/2 .. (1+p)/2) contains the truth in a share p of the histories: the SBC reports that share
for p = 50 % and 90 %, per parameter and over all, and a chi-square test of the rank histogram
against the uniform (``scipy.stats.chisquare``).

Only the free parameters named (``names``; default all) are drawn and fitted; the others keep the
table's defaults, so that SBC on a small subset stays fast. Command: ``python -m model calibrate
--sbc N [--budget B] [--sbc-params a,b,..] [--method smc|hm]``. Resumable: every finished history
is stored (``OUT/sbc/hist-KKKKK.json``) and not fitted again; an interrupted fit resumes from its
parts (``OUT/sbc/fit-KKKKK/``, removed once its history is stored). A folder holding the SBC of
another setup (method, settings, budget, parameters, seed, code) is refused unless ``fresh``.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from model.calibration import targets as TG
from model.calibration.fit import run
from model.calibration.problem import Problem, fingerprint, history_problem
from model.calibration.runs import evaluate_points
from model.calibration.settings import CalibrationError, Settings
from model.engine.paramsets import seeded_rng
from model.io import atomic

FORMAT = "afpak-sbc/1"
OBS_BASE = 1 << 42                      # run ids of the synthetic records
FOLDER = "sbc"
LEVELS = (0.5, 0.9)


def sbc_problem(names: Sequence[str] | None = None) -> Problem:
    """The history calibration with only ``names`` free (None: every free parameter)."""
    prob = history_problem()
    if not names:
        return prob
    unknown = [n for n in names if n not in prob.names]
    if unknown:
        raise CalibrationError(f"--sbc-params: {', '.join(unknown)} not among the free "
                               f"parameters ({len(prob.names)}; see model/data/parameters.yaml)")
    idx = [prob.names.index(n) for n in dict.fromkeys(names)]
    return replace(prob, names=tuple(prob.names[i] for i in idx), lo=prob.lo[idx],
                   hi=prob.hi[idx])


def sbc_settings(seed: int, budget: int, method: str | None = None) -> Settings:
    """The settings of the SBC's fits: calibration.yaml's (``method`` overriding its method),
    ``seed`` and ``budget``; history matching's re-run stage scaled to a quarter of a small
    budget at most (ABC-SMC's settings scale with the budget already). Checked."""
    alg = dict(TG.config().get("algorithm", {}))
    over: dict = {} if method is None else {"method": method}
    if over.get("method", alg.get("method")) == "hm":
        reps = int(alg.get("final_replicates", 32))
        cand = int(alg.get("candidates", 400))
        if cand * reps > budget // 4:
            cand = max(16, budget // (4 * reps))
            over.update(candidates=cand, posterior=min(int(alg.get("posterior", 250)),
                                                       cand // 2))
    return Settings.from_config(seed=seed, budget=budget, **over)


def synthetic(prob: Problem, seed: int, k: int, reps: int) -> tuple[np.ndarray, Problem]:
    """History ``k``'s truth (unit coordinates) and the problem whose documented values are its
    synthetic record."""
    u = seeded_rng(seed, k, 21).random(prob.dim)
    m, _ = evaluate_points(prob, prob.to_values(u[None, :]), seed, OBS_BASE + k * reps, reps)
    ts = replace(prob.targets, targets=[replace(t, z=float(z))
                                        for t, z in zip(prob.targets.targets, m[0], strict=True)])
    return u, replace(prob, targets=ts)


def fit_seed(seed: int, k: int) -> int:
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0] % (2 ** 31))


def weighted_rank(v: np.ndarray, w: np.ndarray, truth: float) -> float:
    """The posterior CDF at ``truth`` (weights below it, half of those equal to it)."""
    w = w / w.sum()
    # clipped: the normalised weights may sum to 1 + a rounding error
    return float(np.clip(w[v < truth].sum() + 0.5 * w[v == truth].sum(), 0.0, 1.0))


def _history(prob: Problem, s: Settings, seed: int, k: int, work: Path) -> dict:
    """Fit history ``k`` and return its record (truth, ranks, contraction, ESS)."""
    reps = s.smc_replicates if s.method == "smc" else s.final_replicates
    u, sp = synthetic(prob, seed, k, reps)
    cal = run(sp, replace(s, seed=fit_seed(seed, k)), work, resume=True, progress=False)
    post = cal.posterior_frame()
    w = post["weight"].to_numpy()
    truth = prob.to_values(u)
    ranks, ratio = [], []
    for j, n in enumerate(prob.names):
        v = post[n].to_numpy()
        ranks.append(weighted_rank(v, w, float(truth[j])))
        m = float(np.sum(w * v) / w.sum())
        sd = float(np.sqrt(np.sum(w * (v - m) ** 2) / w.sum()))
        ratio.append(sd / ((prob.hi[j] - prob.lo[j]) / np.sqrt(12.0)))
    return {"k": k, "truth": truth.tolist(), "rank": ranks, "contraction": ratio,
            "ess": cal.ess, "sets": len(w)}


def _identity(prob: Problem, s: Settings, seed: int) -> dict:
    return {"format": FORMAT, "seed": seed, "settings": asdict(s), "names": list(prob.names),
            "lo": prob.lo.tolist(), "hi": prob.hi.tolist(), "code": fingerprint()}


def _open(folder: Path, ident: dict, fresh: bool) -> None:
    path = folder / "identity.json"
    if fresh and folder.exists():
        shutil.rmtree(folder)
    if path.exists():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            old = None
        if old != ident:
            diff = sorted(k for k in ident if not isinstance(old, dict) or old.get(k) != ident[k])
            raise CalibrationError(f"{folder} holds the SBC of another setup (differs in "
                                   f"{', '.join(diff) or 'format'}); use --fresh to start over "
                                   f"there, or another --out")
    folder.mkdir(parents=True, exist_ok=True)
    atomic.write_text(path, json.dumps(ident, indent=1))


def _stored(path: Path, k: int, dim: int) -> dict | None:
    """History ``k``'s stored record, or None when missing or damaged."""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if isinstance(rec, dict) and rec.get("k") == k and len(rec.get("rank", ())) == dim:
        return rec
    return None


def run_sbc(n: int, s: Settings, root: Path, names: Sequence[str] | None = None,
            fresh: bool = False, progress: bool = True) -> pd.DataFrame:
    """SBC over ``n`` synthetic histories with the method and settings ``s`` (the SBC seed is
    ``s.seed``); returns one row per history and parameter (``k, parameter, truth, rank,
    contraction, ess``)."""
    prob = sbc_problem(names)
    s.check()
    folder = root / FOLDER
    _open(folder, _identity(prob, s, s.seed), fresh)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=n, unit="history", desc="sbc", file=sys.stderr, dynamic_ncols=True)
    recs = []
    try:
        for k in range(n):
            path = folder / f"hist-{k:05d}.json"
            rec = _stored(path, k, prob.dim)
            if rec is None:
                work = folder / f"fit-{k:05d}"
                rec = _history(prob, s, s.seed, k, work)
                atomic.write_text(path, json.dumps(rec))
                shutil.rmtree(work, ignore_errors=True)
            recs.append(rec)
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(_running(recs), refresh=True)
    finally:
        if bar is not None:
            bar.close()
    rows = [{"k": r["k"], "parameter": name, "truth": r["truth"][j], "rank": r["rank"][j],
             "contraction": r["contraction"][j], "ess": r["ess"]}
            for r in recs for j, name in enumerate(prob.names)]
    return pd.DataFrame(rows)


def _running(recs: list[dict]) -> str:
    r = np.array([x["rank"] for x in recs]).ravel()
    return " ".join(f"cov{int(p * 100)} {np.mean(np.abs(r - 0.5) <= p / 2):.2f}"
                    for p in LEVELS)


def coverage(table: pd.DataFrame) -> pd.DataFrame:
    """Per parameter (and ``all``): coverage of the central 50 % and 90 % intervals, the
    chi-square test of the rank histogram against the uniform, and the median contraction."""
    from scipy.stats import chisquare

    n_hist = table["k"].nunique()
    bins = int(max(2, min(10, n_hist // 5)))
    rows = []
    for name, g in [*table.groupby("parameter", sort=False), ("all", table)]:
        r = g["rank"].to_numpy()
        hist = np.histogram(np.clip(r, 0, 1), bins=bins, range=(0.0, 1.0))[0]
        test = chisquare(hist)
        rows.append({"parameter": name, "histories": g["k"].nunique(),
                     **{f"cover{int(p * 100)}": float(np.mean(np.abs(r - 0.5) <= p / 2))
                        for p in LEVELS},
                     "chi2": float(test.statistic), "p_uniform": float(test.pvalue),
                     "bins": bins, "contraction": float(g["contraction"].median())})
    return pd.DataFrame(rows)


def summary_lines(cov: pd.DataFrame, s: Settings, budget_note: str = "") -> list[str]:
    """The SBC table as text lines (printed by the command)."""
    allrow = cov[cov["parameter"] == "all"].iloc[0]
    lines = [f"SBC of method {s.method} ({int(allrow['histories'])} synthetic histories, "
             f"budget {s.budget:,} runs per fit{budget_note}, seed {s.seed}): coverage of the "
             f"central 50 % interval {allrow['cover50']:.2f}, of the 90 % interval "
             f"{allrow['cover90']:.2f}; rank histogram chi2 {allrow['chi2']:.1f} on "
             f"{int(allrow['bins']) - 1} df, p = {allrow['p_uniform']:.3f}; median contraction "
             f"{allrow['contraction']:.2f}",
             f"  {'parameter':<32} {'cov50':>6} {'cov90':>6} {'chi2':>7} {'p':>6} {'sd/prior':>8}"]
    for row in cov.itertuples(index=False):
        lines.append(f"  {row.parameter:<32} {row.cover50:>6.2f} {row.cover90:>6.2f} "
                     f"{row.chi2:>7.1f} {row.p_uniform:>6.3f} {row.contraction:>8.2f}")
    return lines
