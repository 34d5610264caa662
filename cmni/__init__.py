"""Checkpoint Mirror Neuron Index (CMNI) metric package."""

from .metric import SCENARIO_NAMES, CMNIResult, compute_cmni
from .overlap import self_other_overlap
from .stats import PermutationResult, bootstrap_ci, permutation_test

__all__ = [
    "compute_cmni",
    "CMNIResult",
    "SCENARIO_NAMES",
    "permutation_test",
    "PermutationResult",
    "bootstrap_ci",
    "self_other_overlap",
]
