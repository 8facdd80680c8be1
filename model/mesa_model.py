"""The Mesa face under its historical name: ``model.mesa_model.AfPakModel`` works with
``mesa.batch_run``. The code lives in ``model.adapters.mesa_model``."""

from model.adapters.mesa_model import ActorAgent, AfPakModel

__all__ = ["ActorAgent", "AfPakModel"]
