"""Time the CMNI pieces on a realistic probe: metric, permutation test, probe-set build.

    python benchmarks/cmni_speed.py

Prints the median of several repeats (seconds) for compute_cmni and permutation_test
(K = 200) on 8000 states x 256 neurons, and for building a 1000-per-scenario probe set.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np

from cmni import compute_cmni, permutation_test
from cmni.probe_set import build_probe_set
from frogtoad_env.config import EnvConfig


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: BLAS initialisation, numba compilation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    activations = rng.normal(size=(8000, 256))
    scenarios = rng.integers(0, 4, 8000)
    rows = [
        ("compute_cmni, 8000 x 256", median_seconds(lambda: compute_cmni(activations, scenarios), args.repeats)),
        (
            "permutation_test K=200, 8000 x 256",
            median_seconds(lambda: permutation_test(activations, scenarios, n_permutations=200), args.repeats),
        ),
        (
            "build_probe_set, 1000 per scenario",
            median_seconds(lambda: build_probe_set(EnvConfig(), per_scenario=1000, seed=0), args.repeats),
        ),
    ]
    print(f"{'what':40s} {'median s':>10s}")
    for name, seconds in rows:
        print(f"{name:40s} {seconds:10.4f}")


if __name__ == "__main__":
    main()
