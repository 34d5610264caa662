"""Runs as data: the training config and the run folder that training, the CMNI probe and
evaluation share. Torch-free, so reading a run never loads a network library.

- :mod:`experiment.config`: :class:`~experiment.config.TrainConfig`, every setting of a run,
  validated in one place (the CLIs only parse).
- :mod:`experiment.run_folder`: the run folder's layout, file names, checkpoint names,
  ``config.json`` read and write, the run's lock.
- :mod:`experiment.cmni_csv`: the ``cmni.csv`` columns, reader and writer.
- :mod:`experiment.resolve`: a user's path resolved to a run and a model, and the names of
  what ``evaluate.py`` writes.
- :mod:`experiment.atomic`: atomic file writes (temporary file, then ``os.replace``).
"""
