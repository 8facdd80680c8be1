"""The kernel's on-disk cache never runs stale code: Numba's ``cache=True`` checks only the
source file of each function, while the kernel bakes in values read from other files (the
Goldstein weights of ``model/data/event_types.yaml``, the layouts of ``spec.py``). The cache is
therefore kept in a directory keyed to all of them (``model.core.jit``).

The test edits a weight in a copy of the project whose cache is already filled, and checks that
the copy's next run uses the new weight (with Numba's plain cache it would load the old code:
checked by hand on the code before the keyed cache, where the second run printed the old
evidence).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: One act through the kernel's compiled ``_act`` (cheap to compile): MIL_COOPERATE's direct
#: evidence, weighted by its Goldstein weight, and where the model was imported from.
SCRIPT = """
import json, numpy as np, model
from model.core import kernel, params, spec
pr = params.records([params.defaults()])[0]
x = np.zeros(spec.N_STATE); dx = np.zeros(spec.N_STATE)
aid = np.zeros(2); dev = np.zeros((1, 2, 5, 5)); daid = np.zeros((1, 2))
kernel._act(pr, aid, x, dx, spec.ACTION_INDEX["MIL_COOPERATE"], 1.0, -1, dev, daid, 1)
print(json.dumps({"file": model.__file__, "evidence": dev.ravel().tolist()}))
"""


def _run(copy: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=copy, capture_output=True,
                          text=True, check=False, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert Path(out["file"]).resolve().is_relative_to(copy.resolve())  # the copy, not ROOT
    return out


@pytest.mark.slow
def test_editing_a_goldstein_weight_recompiles_the_kernel(tmp_path):
    copy = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("model", "scenarios"):
        shutil.copytree(ROOT / part, copy / part, ignore=ignore)
    before = _run(copy)
    assert list((copy / "model" / "core" / "__pycache__").rglob("*.nbi")), "cache not filled"

    # MIL_COOPERATE (CAMEO 062, "cooperate militarily") is the army's most frequent act.
    types = copy / "model" / "data" / "event_types.yaml"
    text = types.read_text(encoding="utf-8")
    edited, n = re.subn(r'("062":\s*\{[^}]*goldstein:\s*)7\.4', r"\g<1>1.0", text)
    assert n == 1, "the test's weight is no longer in event_types.yaml"
    types.write_text(edited, encoding="utf-8")

    after = _run(copy)
    assert after["evidence"] != before["evidence"], "the edited weight did not act: stale kernel"
