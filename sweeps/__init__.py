"""Sweeps: many runs (factors x seeds) trained, resumed and summarised as one experiment.

Above the training and evaluation layers; ``sweep.py`` is its command line.

- :mod:`sweeps.grid`: the grid (factor -> levels), run names, the sweep folder (grid check,
  lock, failure records, run states) and the presets; torch-free.
- :mod:`sweeps.execute`: running the runs, one process per run or one Ray task per run.
- :mod:`sweeps.report`: ``results.csv`` and ``summary.md`` from the runs' own files.
- :mod:`sweeps.stats`: per-level intervals, effect tests and the verdicts on the paper's claims.
- :mod:`sweeps.figures`: the report's figures.
"""
