"""The history check of a calibration: history runs with a posterior (or the table's defaults)
scored by ``history-check`` (``model.analysis.history``) in sample, out of sample and in all."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from model.analysis.history import score
from model.calibration.problem import history_scenario
from model.engine import runner as engine
from model.engine.paramsets import Posterior, PosteriorError, draw_params, load_posterior
from model.inputs.scenario import month_label

SPLIT = "2011-12"                    # end of the fitting period of the validation run

_SHAPE = ("expected '#' header lines, then a CSV with one column per free parameter, "
          "'distance' and 'weight', one row per parameter set (as `python -m model calibrate` "
          "writes it)")


def read_posterior(path: str | Path, names: Sequence[str] | None = None) -> Posterior:
    """A posterior file given to a calibration or scoring entry, checked for its shape: a
    readable CSV of known parameter columns, ``distance`` and ``weight``, at least one row,
    numbers only, all finite, weights >= 0 with a positive sum, and (``names``) exactly these
    parameter columns. Anything else is a ``PosteriorError`` naming the file and the problem."""
    p = Path(path)
    if not p.is_file():
        raise PosteriorError(f"{p}: no posterior file there" if not p.exists() else
                             f"{p}: not a regular file; {_SHAPE}")
    try:
        post = load_posterior(p)
    except PosteriorError:
        raise
    except (ValueError, TypeError, UnicodeDecodeError, pd.errors.ParserError,
            pd.errors.EmptyDataError) as exc:
        raise PosteriorError(f"{p}: not a posterior file ({type(exc).__name__}: "
                             f"{str(exc)[:120]}); {_SHAPE}") from None
    frame = post.frame
    text = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c])]
    if text:
        raise PosteriorError(f"{p}: text where numbers belong in column(s) {', '.join(text)}")
    bad = [c for c in frame.columns if not np.isfinite(frame[c].to_numpy(float)).all()]
    if bad:
        raise PosteriorError(f"{p}: empty, NaN or infinite values in column(s) "
                             f"{', '.join(bad)}")
    if not post.names:
        raise PosteriorError(f"{p}: no parameter columns; {_SHAPE}")
    if names is not None and set(post.names) != set(names):
        missing, extra = sorted(set(names) - set(post.names)), sorted(set(post.names) - set(names))
        raise PosteriorError(
            f"{p}: not a posterior of this calibration's {len(names)} free parameters"
            + (f"; missing {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
               if missing else "")
            + (f"; not free here {', '.join(extra[:5])}" if extra else ""))
    return post


def history_runs(params: str | Path | Mapping | None, runs: int, seed: int,
                 months: int | None = None) -> engine.Results:
    """History replay with the posterior (a path or Posterior: per-run draws), table defaults
    (``None``) or one mapping for all runs."""
    sc = history_scenario()
    if params is None or isinstance(params, Mapping):
        return engine.simulate(sc, runs=runs, seed=seed, months=months,
                               params=dict(params or {}))
    post = params if isinstance(params, Posterior) else read_posterior(params)
    rows = draw_params(seed, range(runs), post, exclude=tuple(sc.params))
    return engine.simulate(sc, runs=runs, seed=seed, months=months, params=rows)


def split_scores(res: engine.Results, split: str = SPLIT) -> dict:
    """history-check scores of a history ensemble: in sample (up to ``split``), out of sample
    (after it) and all."""
    nxt = month_label(split, 1)
    return {"in": score(res, until=split), "out": score(res, since=nxt), "all": score(res)}
