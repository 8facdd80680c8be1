"""Where the calibration puts its points, all in unit-cube coordinates of the prior box: the
scrambled Sobol design of the first wave (generation), the perturbed designs of later waves, the
Gaussian-mixture proposal density (``log_mixture``, used by both methods), the waves' proposal
density, and the ABC importance weights that divide by it.

Every design derives from ``SeedSequence(seed, spawn_key=(wave, k))``
(``model.engine.paramsets.seeded_rng``): the same seed gives the same designs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np

from model.engine.paramsets import seeded_rng


def sobol_design(n: int, dim: int, seed: int) -> np.ndarray:
    """A scrambled Sobol design of ``n`` points in the unit cube (scipy.stats.qmc)."""
    from scipy.stats import qmc

    eng = qmc.Sobol(dim, scramble=True, rng=seeded_rng(seed, 0, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # n need not be a power of two
        return eng.random(n)


def _in_subspace(z: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Steps ``z`` (n x d) kept in a random subset of the coordinates of each row: each with
    probability ``share``, at least one (DREAM's randomised subspace); ``share`` 1 keeps all."""
    if share >= 1.0:
        return z
    n, d = z.shape
    mask = rng.random((n, d)) < share
    mask[np.arange(n), rng.integers(0, d, size=n)] = True
    return z * mask


def _reflect(u: np.ndarray) -> np.ndarray:
    """Reflect coordinates into [0, 1] (the prior box) at its faces."""
    u = np.mod(u, 2.0)
    return np.where(u > 1.0, 2.0 - u, u)


def kernel_cov(parents: np.ndarray, scale: float, weights: np.ndarray | None = None
               ) -> np.ndarray:
    """Perturbation covariance: ``scale`` x the parents' (weighted) covariance (Beaumont et al.
    2009: twice the weighted covariance), with a small ridge so that it stays positive
    definite."""
    d = parents.shape[1]
    cov = (np.atleast_2d(np.cov(parents, rowvar=False, aweights=weights)) if len(parents) > 1
           else np.zeros((d, d)))
    ridge = 1e-6 + 1e-3 * np.mean(np.diag(cov))
    return scale * cov + ridge * np.eye(d)


def perturbed_design(parents: np.ndarray, n: int, scale: float, seed: int, wave: int,
                     subspace: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n`` points around the NROY ``parents``: a parent each (uniformly), plus quasi-random
    normal perturbations (scipy.stats.qmc.MultivariateNormalQMC), reflected into the box.

    ``subspace`` < 1 moves each point in a random subset of the coordinates only (each with that
    probability, at least one), the others staying at the parent's value: the randomised
    subspace sampling of DREAM (Vrugt et al. 2009), which keeps the steps of a population in
    many dimensions from being mostly noise in the coordinates that are already fitted.
    Returns (points, parent index of each, covariance)."""
    from scipy.stats import qmc

    rng = seeded_rng(seed, wave, 2)
    cov = kernel_cov(parents, scale)
    pick = rng.choice(len(parents), size=n)
    mvn = qmc.MultivariateNormalQMC(np.zeros(parents.shape[1]), cov, rng=rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        z = mvn.random(n)
    return _reflect(parents[pick] + _in_subspace(z, subspace, rng)), pick, cov


def log_mixture(u: np.ndarray, par: np.ndarray, cov: np.ndarray,
                weights: np.ndarray | None = None, block: int = 2048) -> np.ndarray:
    """Log density at ``u`` of the Gaussian mixture (covariance ``cov``) around the points
    ``par`` with mixture ``weights`` (None: equal), computed in log space (no overflow or
    underflow in many dimensions) and ``block`` rows of ``u`` at a time."""
    from scipy.linalg import solve_triangular
    from scipy.special import logsumexp

    chol = np.linalg.cholesky(cov)
    logdet = 2.0 * np.log(np.diag(chol)).sum()
    logw = (np.full(len(par), -math.log(len(par))) if weights is None
            else np.log(np.maximum(weights / weights.sum(), 1e-300)))
    wp = solve_triangular(chol, par.T, lower=True).T
    pp = (wp ** 2).sum(1)[None, :]
    const = -0.5 * (logdet + u.shape[1] * math.log(2 * math.pi))
    out = np.empty(len(u))
    for lo in range(0, len(u), block):
        wu = solve_triangular(chol, u[lo: lo + block].T, lower=True).T      # whitened points
        d2 = (wu ** 2).sum(1)[:, None] + pp - 2.0 * wu @ wp.T
        out[lo: lo + block] = logsumexp(-0.5 * np.maximum(d2, 0.0) + logw[None, :], axis=1)
    return out + const


def log_proposal(u: np.ndarray, designs: Sequence[dict]) -> np.ndarray:
    """Log density (unit-cube coordinates) of the waves' deterministic mixture at ``u``:
    each wave's proposal (uniform for the Sobol wave, the Gaussian mixture around its parents
    otherwise, reflection ignored) weighted by its number of points."""
    from scipy.special import logsumexp

    sizes = np.array([len(d["u"]) for d in designs], dtype=float)
    parts = [np.zeros(len(u)) if "cov" not in des                     # log 1 on the unit cube
             else log_mixture(u, des["parents"], des["cov"]) for des in designs]
    parts_arr = np.stack(parts, axis=1)
    return logsumexp(parts_arr + np.log(sizes / sizes.sum())[None, :], axis=1)


def abc_weights(u: np.ndarray, dist: np.ndarray, designs: Sequence[dict] | None
                ) -> tuple[np.ndarray, float]:
    """Importance weights of the accepted points: Epanechnikov kernel of the distance (the
    largest accepted distance is the tolerance) times prior / proposal, truncated at
    mean * sqrt(n) (Ionides 2008); returns (weights summing to 1, effective sample size).

    ``designs`` None: the waves' proposal has no density to divide by (subspace moves put mass
    on lower-dimensional slices), and the weights are the kernel alone: the accepted sets then
    sample the calibrated region as the waves found it, not the prior restricted to it."""
    eps = dist.max() * (1.0 + 1e-9)
    kern = 1.0 - (dist / eps) ** 2
    logw = np.log(np.maximum(kern, 1e-300))
    if designs is not None:
        logw = logw - log_proposal(u, designs)                            # uniform prior
    w = np.exp(logw - logw.max())
    w /= w.sum()
    cap = w.mean() * math.sqrt(len(w))
    for _ in range(50):
        over = w > cap
        if not over.any():
            break
        w = np.minimum(w, cap)
        w /= w.sum()
    ess = float(1.0 / (w ** 2).sum())
    return w, ess
