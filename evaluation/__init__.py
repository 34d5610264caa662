"""Evaluating a trained run: what ``python evaluate.py`` computes and writes.

Each module holds one step of the pipeline, named for what it does:

- :mod:`evaluation.partners`: the players (trained model, scripted, random) and the one
  ``--partner`` factory.
- :mod:`evaluation.episodes`: seeded games played in the batched rules core.
- :mod:`evaluation.behaviour`: the behaviour table: scores with confidence intervals and
  help rates per role.
- :mod:`evaluation.statistics`: confidence intervals (scipy.stats).
- :mod:`evaluation.cmni_curve`: the CMNI over training, from ``cmni.csv`` or recomputed.
- :mod:`evaluation.figures`: every figure and the replay.
- :mod:`evaluation.markdown`: ``report.md``.
- :mod:`evaluation.options`: :class:`~evaluation.options.ReportOptions`, the settings,
  validated in one place, and which of them only a PPO run takes.
- :mod:`evaluation.report`: :func:`~evaluation.report.generate_report`, which runs all of
  the above into one folder.
- :mod:`evaluation.classifier`: a supervised classifier's report (the test set's confusion
  matrix, CMNI vs validation loss, the neuron table, the classifier as a player).

The CMNI of one checkpoint and its neuron tables live in :mod:`cmni.neurons`, the circuit
analysis in :mod:`cmni.circuits` (weights from :mod:`cmni.weights`), the run folder's
layout and file names in :mod:`experiment.run_folder`. Submodules are imported on demand;
none of them imports torch at import time except :mod:`evaluation.classifier`, which is
imported once a supervised run is found.
"""
