"""Ablation: each mechanism of the kernel switched off, and what the timing score says then
(``python -m model ablate``; figures in ``docs/parsimony.md``).

A mechanism is *off* when its gain parameters (``MECHANISMS``) are set to 0 on top of every
posterior draw; everything else stays as fitted. Each variant replays the history and is scored
as ``history-check`` scores it (``model.analysis.timing``): in sample, all documented decisions
with the full posterior; out of sample, the decisions after ``cut`` with a posterior fitted up to
``cut`` (``python -m model calibrate --until CUT --out DIR --no-install``, or the ``until-CUT``
fit of ``calibrate --rolling``).

The posteriors are **not refitted** without the mechanism: the other parameters keep values
fitted with it, so a drop in skill overstates what the mechanism adds when the rest could have
compensated. A refit per ablation is the stronger test, and costs a calibration each.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.analysis.timing import score_timing
from model.calibration.problem import history_scenario
from model.core import params as P
from model.engine import runner as engine
from model.io.errors import ModelInputError

#: Each mechanism: (label, parameter group, the gains set to 0 to switch it off). The gains are
#: the coefficients of the mechanism's terms in ``model/core/kernel.py`` (its M-comments); rates
#: of decay, natural levels and scales are left alone (at 0 they would change other terms).
MECHANISMS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "M1": ("aid buys compliance", "aid_compliance",
           ("aid_compliance", "coercion_compliance", "aid_trust_gain", "hedge_visibility",
            "reprisal_gain", "moral_hazard")),
    "M2": ("the India factor", "india_factor",
           ("india_penalty", "india_proxy_gain", "india_engage_step")),
    "M3": ("sovereignty shocks", "sovereignty",
           ("sovereignty_weight", "hostility_gain", "retaliation_gain")),
    "M4": ("attribution spirals", "attribution",
           ("attribution_weight", "threat_response", "threat_offense", "haven_blame")),
    "M5": ("civil-military split", "civmil",
           ("democracy_gain", "civ_leverage", "exposure_gain", "backing_shift", "army_pushback",
            "pressure_shift", "interference_penalty")),
    "M6": ("domestic payoff of defiance", "defiance", ("defiance_payoff", "defiance_standing")),
    "M7": ("leverage through mediation", "mediation",
           ("mediation_gain", "mediation_trust", "leverage_gain", "exit_gain", "talks_gain")),
    "M8": ("mutual dependence", "dependence",
           ("dependence_cost", "dependence_restraint", "engage_need_gain", "closure_cost",
            "aid_floor")),
    "M9": ("historical memory", "memory", ("memory_pos", "memory_neg")),
    "balance": ("structural balance", "balance", ("balance_weight",)),
}
OFF = 0.0
NOTE = ("posteriors NOT refitted without the mechanism (the other parameters keep values fitted "
        "with it); a refit per ablation is the stronger test and costs a calibration each")


class AblationError(ModelInputError):
    """A mechanism table that does not match the parameter table, or bad ablation input."""


def off_values(mechanism: str) -> dict[str, float]:
    """The overrides that switch ``mechanism`` off, checked against the parameter table."""
    if mechanism not in MECHANISMS:
        raise AblationError(f"unknown mechanism {mechanism!r}; known: {', '.join(MECHANISMS)}")
    gains = MECHANISMS[mechanism][2]
    tab = P.table()
    for name in gains:
        if name not in tab:
            raise AblationError(f"model/calibration/ablation.py MECHANISMS[{mechanism!r}]: "
                                f"{name!r} is not in {P.TABLE_FILE}{P.suggest(name, tab)}; "
                                f"update the mechanism table to the kernel's gains")
    return {n: P.check(n, OFF, f"ablation of {mechanism}") for n in gains}


@dataclass(frozen=True)
class Posteriors:
    """The parameter sets of the two scores: ``full`` for in sample ('posterior' = the shipped
    one, 'default', or a CSV), ``until`` (a CSV fitted up to ``cut``, or None) out of sample."""

    full: str
    until: str | None
    cut: str


def _score(params: str, overrides: dict[str, float], runs: int, seed: int,
           after: str | None) -> dict:
    sc = history_scenario()
    res = engine.simulate(sc, runs=runs, seed=seed, params=params, overrides=overrides)
    s = score_timing(res, after=after).summary
    return {"timed": s.timed, "decisions": s.decisions, "log_lift_freq": s.log_lift_freq,
            "log_lift_shock": s.log_lift_shock, "brier_skill_freq": s.brier_skill_freq,
            "brier_skill_shock": s.brier_skill_shock}


def ablate(post: Posteriors, runs: int = 200, seed: int = 0,
           mechanisms: Sequence[str] | None = None, progress: bool = True) -> pd.DataFrame:
    """One row per variant (the full model first, then each mechanism off): the in-sample and
    (with ``post.until``) out-of-sample timing scores and their change from the full model."""
    names = list(mechanisms) if mechanisms else list(MECHANISMS)
    variants = [("none", "full model", {})] + [(m, MECHANISMS[m][0], off_values(m))
                                                for m in names]
    rows = []
    for key, label, off in variants:
        t0 = time.perf_counter()
        row = {"off": key, "mechanism": label, "gains_set_to_0": " ".join(off)}
        row.update({f"in_{k}": v for k, v in _score(post.full, off, runs, seed, None).items()})
        if post.until is not None:
            row.update({f"out_{k}": v for k, v in
                        _score(post.until, off, runs, seed, post.cut).items()})
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        if progress:
            sys.stderr.write(f"ablate: {key:8s} {label:30s} in {row['in_timed']}/"
                             f"{row['in_decisions']} timed"
                             + (f", out {row['out_timed']}/{row['out_decisions']}"
                                if post.until is not None else "")
                             + f" ({row['seconds']:.0f} s)\n")
    df = pd.DataFrame(rows)
    for col in [c for c in df.columns if c.startswith(("in_", "out_"))
                and not c.endswith("decisions")]:
        df[f"d_{col}"] = df[col] - df[col].iloc[0]
    return df


def until_posterior(path: str | Path, cut: str) -> str:
    """A posterior CSV fitted up to ``cut``: the file itself, or ``until-CUT/posterior.csv``
    inside a ``calibrate --until CUT --out DIR`` or ``calibrate --rolling --out DIR`` folder."""
    p = Path(path)
    if p.is_dir():
        cand = p / f"until-{cut}" / "posterior.csv"
        if not cand.is_file():
            raise AblationError(f"{p}: no until-{cut}/posterior.csv inside; make one with "
                                f"`python -m model calibrate --until {cut} --out {p} "
                                f"--no-install`")
        return str(cand)
    return str(p)


def format_table(df: pd.DataFrame, post: Posteriors, runs: int) -> str:
    """The ablation table as printed."""
    cols = ["off", "mechanism", "in_timed", "in_log_lift_freq", "in_log_lift_shock",
            "in_brier_skill_freq", "in_brier_skill_shock"]
    if post.until is not None:
        cols += ["out_timed", "out_log_lift_freq", "out_log_lift_shock", "out_brier_skill_freq"]
    show = df[cols].copy()
    n_in = int(df["in_decisions"].iloc[0])
    show["in_timed"] = [f"{v}/{n_in}" for v in df["in_timed"]]
    if post.until is not None:
        n_out = int(df["out_decisions"].iloc[0])
        show["out_timed"] = [f"{v}/{n_out}" for v in df["out_timed"]]
    lines = [f"ablation: each mechanism's gains set to 0 on every parameter set ({runs} runs "
             f"per variant)",
             f"in sample: all documented decisions, parameters {post.full}",
             (f"out of sample: decisions after {post.cut}, posterior fitted up to {post.cut}: "
              f"{post.until}" if post.until is not None else
              f"out of sample: not scored (give --posterior-until: a posterior fitted up to "
              f"{post.cut})"),
             show.to_string(index=False, float_format=lambda v: f"{v:+.3f}"),
             "gains set to 0: " + "; ".join(f"{k}: {', '.join(v[2])}"
                                            for k, v in MECHANISMS.items()
                                            if k in set(df["off"])),
             f"note: {NOTE}"]
    return "\n".join(lines)
