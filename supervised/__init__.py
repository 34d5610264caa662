"""The paper's own pipeline: supervised classifiers on heuristically labelled game states.

- :mod:`supervised.config`: :class:`SupervisedConfig` (torch-free, validated).
- :mod:`supervised.dataset`: states from play with the batched rules core, labelled by
  :func:`frogtoad_env.scripted.heuristic_labels`, duplicates dropped, a seeded split with
  a balanced test set (numpy only).
- :mod:`supervised.classifier`: the MLP, one training epoch, evaluation (torch).
- :mod:`supervised.training`: :func:`train_supervised`, the resumable run with the CMNI
  measured after every epoch.

Importing this package imports nothing heavy; import the submodules you need.
"""
