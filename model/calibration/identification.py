"""What the targets identify: which targets inform which parameter (``provenance``, over the
prior-wide first wave or generation) and how far each parameter's posterior narrowed from its
prior (``identification``: the contraction, posterior sd / prior sd)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from model.calibration import targets as TG
from model.calibration.fit import Calibration
from model.core import params as P
from model.engine.paramsets import seeded_rng


def _wave0_rho(cal: Calibration) -> np.ndarray:
    """Spearman correlation (parameters x targets) between the wave-0 points and the targets'
    standardised discrepancies; 0 where a target does not vary."""
    from scipy.stats import spearmanr

    sel = cal.wave == 0
    x = cal.u[sel]
    d = TG.discrepancy(cal.mean[sel], cal.problem.targets)
    keep_t = d.std(axis=0) > 0
    rho = np.zeros((x.shape[1], d.shape[1]))
    if keep_t.any():
        r = spearmanr(np.hstack([x, d[:, keep_t]])).statistic
        rho[:, keep_t] = np.asarray(r)[: x.shape[1], x.shape[1]:]
    return np.nan_to_num(rho)


def provenance(cal: Calibration, min_abs: float = 0.1, top: int = 3) -> pd.DataFrame:
    """Which targets inform which parameter: Spearman rank correlation between the parameter
    and the target's standardised discrepancy over the wave-0 Sobol design (a global,
    prior-wide sensitivity). Keeps |rho| >= ``min_abs``, and at least the ``top`` strongest
    targets of every parameter."""
    rho = _wave0_rho(cal)
    rows = []
    ts = cal.problem.targets.targets
    for i, n in enumerate(cal.names):
        order = np.argsort(-np.abs(rho[i]))
        for rank, j in enumerate(order):
            if abs(rho[i, j]) < min_abs and rank >= top:
                break
            if rho[i, j] == 0:
                break
            t = ts[j]
            rows.append({"parameter": n, "target": t.id, "strength": round(float(rho[i, j]), 3),
                         "family": t.family, "events": " ".join(t.events)})
    return pd.DataFrame(rows, columns=["parameter", "target", "strength", "family", "events"])


#: A parameter is identified when its contraction (posterior sd / prior sd) is at most this
#: (issue 17's target), and collapsed when it is below ``COLLAPSED``.
IDENTIFIED = 0.5
COLLAPSED = 0.02


def identification(cal: Calibration) -> pd.DataFrame:
    """Per parameter: prior and posterior mean and sd, the contraction (posterior sd / prior sd,
    also ``sd_ratio``), and the KS statistic of the (weight-resampled) posterior against the
    uniform prior; ``identified`` when the contraction is at most ``IDENTIFIED``, ``collapsed``
    when below ``COLLAPSED`` (a posterior near a point)."""
    from scipy.stats import kstest

    post = cal.posterior_frame()
    w = post["weight"].to_numpy()
    rows = []
    rng = seeded_rng(cal.settings.seed, 0, 9)
    idx = rng.choice(len(post), size=2000, p=w / w.sum())
    for k, n in enumerate(cal.names):
        lo, hi = cal.problem.lo[k], cal.problem.hi[k]
        v = post[n].to_numpy()
        m = float(np.sum(w * v) / w.sum())
        sd = float(np.sqrt(np.sum(w * (v - m) ** 2) / w.sum()))
        psd = (hi - lo) / math.sqrt(12.0)
        ks = float(kstest(v[idx], "uniform", args=(lo, hi - lo)).statistic)
        rows.append({"parameter": n, "default": P.table()[n].default, "prior_lo": lo,
                     "prior_hi": hi, "post_mean": m, "post_sd": sd, "contraction": sd / psd,
                     "sd_ratio": sd / psd, "ks": ks,
                     "identified": bool(sd / psd <= IDENTIFIED),
                     "collapsed": bool(sd / psd < COLLAPSED)})
    return pd.DataFrame(rows)


def contraction_line(ident: pd.DataFrame) -> str:
    """One line: how far the posterior narrowed, over the parameters."""
    c = ident["contraction"]
    n_id = int((c <= IDENTIFIED).sum())
    return (f"contraction (posterior sd / prior sd) over {len(c)} parameters: median "
            f"{c.median():.2f}, range {c.min():.2f} .. {c.max():.2f}; {n_id}"
            f" at most {IDENTIFIED} (identified), {int((c < COLLAPSED).sum())} below "
            f"{COLLAPSED} (collapsed)")
