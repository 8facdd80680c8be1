"""Writing a calibration's result: the posterior CSV (read by the engine,
``model.engine.paramsets``) and the provenance CSV (which targets inform which parameter), in a
working folder or installed as the shipped ``model/data/posterior.csv`` and ``provenance.csv``.

Format of the posterior: '#' header lines (provenance of the file: command, code fingerprint,
ESS), then one row per accepted set, best first; columns the free parameters, ``distance`` and
``weight``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from model.calibration.fit import Calibration
from model.calibration.identification import identification, provenance
from model.calibration.problem import fingerprint
from model.engine.paramsets import POSTERIOR_PATH, load_posterior
from model.io import atomic
from model.io.paths import DATA

PROVENANCE_PATH = DATA / "provenance.csv"


def write_posterior(cal: Calibration, path: Path, header: Mapping[str, str]) -> Path:
    """The posterior CSV: '#' header lines (provenance), then one row per accepted set, best
    first; columns the free parameters, ``distance`` and ``weight``."""
    df = cal.posterior_frame()
    lines = [f"# {k}: {v}" for k, v in header.items()]
    body = df.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    return atomic.write_text(Path(path), "\n".join(lines) + "\n" + body)


def write_provenance(prov: pd.DataFrame, path: Path) -> Path:
    """The provenance CSV (``parameter, target, strength, family, events``)."""
    return atomic.write_csv(Path(path), prov, lineterminator="\n")


def posterior_header(cal: Calibration) -> dict[str, str]:
    """The '#' header of a posterior file: what it holds and the command that makes it."""
    s = cal.settings
    cmd = f"python -m model calibrate --seed {s.seed} --budget {s.budget} --method {s.method}"
    if s.until:
        cmd += f" --until {s.until}"
    return {"afpak calibration posterior": f"{len(cal.accepted)} sets, best first",
            "command": cmd, "code": fingerprint(),
            "targets": f"{len(cal.problem.targets)} ({cal.problem.targets.start} .. "
                       f"{s.until or 'end'})",
            "method": "ABC-SMC (Del Moral et al. 2012), weight = copies among the particles"
            if cal.method == "smc"
            else "history matching, then ABC rejection",
            "ess": f"{cal.ess:.1f}"}


def save(cal: Calibration, folder: Path) -> tuple[Path, pd.DataFrame]:
    """``posterior.csv``, ``provenance.csv`` and ``identification.csv`` (contraction per
    parameter) of ``cal`` in its working ``folder``; returns the posterior's path and the
    provenance table."""
    prov = provenance(cal)
    path = write_posterior(cal, folder / "posterior.csv", posterior_header(cal))
    write_provenance(prov, folder / "provenance.csv")
    atomic.write_csv(folder / "identification.csv", identification(cal),
                     float_format="%.6g", lineterminator="\n")
    return path, prov


def install(folder: Path) -> tuple[Path, Path]:
    """Ship the calibration whose ``posterior.csv`` and ``provenance.csv`` ``save`` wrote in its
    working ``folder``: ``model/data/posterior.csv`` (the engine's default parameter sets) and
    ``model/data/provenance.csv``, byte for byte. Called only once the whole command has
    succeeded. The working posterior is read back first (a file that the engine would refuse is
    never shipped); then both copies are written beside their targets and moved into place
    together, so that an interruption leaves either both old files or both new ones."""
    src_post, src_prov = Path(folder) / "posterior.csv", Path(folder) / "provenance.csv"
    load_posterior(src_post)
    data = [(src_post.read_bytes(), POSTERIOR_PATH), (src_prov.read_bytes(), PROVENANCE_PATH)]
    with contextlib.ExitStack() as stack:       # both replaced as the block ends, or neither
        for body, dest in data:
            stack.enter_context(atomic.atomic_output(dest)).write_bytes(body)
    return POSTERIOR_PATH, PROVENANCE_PATH
