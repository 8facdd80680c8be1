"""The EMA Workbench adapter under its historical name (``from model.ema import make_model``).
The code lives in ``model.adapters.ema``."""

from model.adapters.ema import ExperimentFunction, make_model, uncertainty_bounds

__all__ = ["ExperimentFunction", "make_model", "uncertainty_bounds"]
