"""The samplers of a sweep: their options (validated by pydantic) and the draw of a sample matrix.

Samples come from the libraries, never hand-written: Latin hypercube from ``scipy.stats.qmc``,
Sobol (Saltelli's scheme) and Morris trajectories from ``SALib.sample``, the factorial grid from
``itertools.product``. ``draw`` works on plain values so that it depends on nothing else in the
package; ``model.experiments.spec.sample_matrix`` calls it for a validated ``Sweep``.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, Strict

StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]

SAMPLERS = ("factorial", "lhs", "sobol", "morris")


class _Factorial(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["factorial"]
    #: Evenly spaced levels for each parameter given as [lo, hi] (lo and hi included).
    levels: StrictInt = Field(3, ge=2, le=1000)


class _Lhs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["lhs"]
    scramble: StrictBool = True
    optimization: Literal["random-cd", "lloyd"] | None = None


class _Sobol(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["sobol"]
    #: Saltelli's extension for second-order indices (2D+2 rows per N instead of D+2).
    second_order: StrictBool = False
    scramble: StrictBool = True


class _Morris(BaseModel):
    model_config = ConfigDict(extra="forbid")
    method: Literal["morris"]
    levels: StrictInt = Field(4, ge=2, le=1000)
    optimal_trajectories: StrictInt | None = Field(None, ge=2)
    local_optimization: StrictBool = True


#: The options model of each sampler (``docs/sweeps.md`` documents every field).
SAMPLER_MODELS: dict[str, type[BaseModel]] = {
    "factorial": _Factorial, "lhs": _Lhs, "sobol": _Sobol, "morris": _Morris}


def draw(opts: dict[str, Any], problem: dict, samples: int | None, seed: int,
         grids: Sequence[Sequence[float]]) -> np.ndarray:
    """The raw sample matrix (rows x parameters) of sampler ``opts["method"]``.

    ``problem`` is SALib's problem dict (names and bounds), ``grids`` the factorial levels of each
    parameter. A sampler's ``UserWarning`` is raised as an error, like its ``ValueError``: a
    sample the sampler warns about is not drawn.
    """
    method = opts["method"]
    d = problem["num_vars"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        if method == "factorial":
            return np.array(list(itertools.product(*grids)), dtype=np.float64).reshape(-1, d)
        if method == "lhs":
            from scipy.stats import qmc

            bounds = np.asarray(problem["bounds"], dtype=np.float64)
            eng = qmc.LatinHypercube(d=d, scramble=opts["scramble"],
                                     optimization=opts["optimization"],
                                     rng=np.random.default_rng(seed))
            return qmc.scale(eng.random(samples), bounds[:, 0], bounds[:, 1])
        if method == "sobol":
            from SALib.sample import sobol as sobol_sample

            return sobol_sample.sample(problem, samples, calc_second_order=opts["second_order"],
                                       scramble=opts["scramble"], seed=seed)
        if method == "morris":
            from SALib.sample import morris as morris_sample

            return morris_sample.sample(problem, samples, num_levels=opts["levels"],
                                        optimal_trajectories=opts["optimal_trajectories"],
                                        local_optimization=opts["local_optimization"],
                                        seed=seed)
    raise ValueError(f"unknown sampler {method!r}")
