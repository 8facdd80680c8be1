"""Calibration of the history replay to the documented events (method: ``docs/calibration.md``;
command: ``python -m model calibrate``, ``model.cli.calibrate``).

Modules, in the order a calibration uses them:

- ``targets``: the calibration targets drawn from the event catalog, and their scores;
- ``settings``: the algorithm's settings (``calibration.yaml``) and the start point;
- ``problem``: what is calibrated (scenario, targets, free parameters, prior box) and the code
  fingerprint;
- ``designs``: where the points go (Sobol, start point, perturbed waves), proposal density and
  ABC weights;
- ``store``: the resumable working folder (manifest, designs, parts; atomic writes);
- ``fit``: the run loop (history matching in waves, then ABC rejection) and its ``Calibration``;
- ``identification``: which targets inform which parameter, and what the posterior narrowed;
- ``posterior``: writing (and installing) the posterior and provenance CSVs; the engine reads them
  (``model.engine.paramsets``);
- ``scoring``: the history check of a posterior in and out of sample;
- ``plots`` and ``report``: ``reports/calibration.md`` and its figures.
"""
