"""Time the CMNI pieces on a realistic probe: metric, permutation test, probe-set build.

    python benchmarks/cmni_speed.py [--repeats R] [--states S] [--neurons N] [--permutations K] [--blas-threads T]

Prints the median of several repeats (seconds) for compute_cmni and permutation_test
(K = 200) on 8000 states x 256 neurons, and for building a 1000-per-scenario probe set.
numpy's BLAS runs with one thread by default, as in the training probe
(:func:`cmni.callback.limit_blas_threads`); ``--blas-threads 0`` leaves the library's own.

It also runs the same permutation test through ``scipy.stats.permutation_test`` (same
activations and labels, same K, one-sided ``greater``; the statistic gathers each
resampled scenario's states and averages them) and prints its median time, alternating
with :func:`cmni.permutation_test` in one loop, and the ratio of the two. The observed
CMNI agrees exactly; the p-values agree up to the resampling noise of two different
random streams. The figure decides whether :mod:`cmni.stats` keeps its hand-vectorised
test (see its module docstring).
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext
from typing import Callable

import numpy as np
from scipy import stats
from threadpoolctl import threadpool_limits

from cmni import compute_cmni, permutation_test
from cmni.metric import mns_from_means
from cmni.probe_set import build_probe_set
from frogtoad_env.config import EnvConfig

#: Resamples per call of the vectorised statistic (bounds the gathered copies' memory).
SCIPY_BATCH = 8


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: BLAS initialisation, numba compilation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def scipy_permutation_test(activations: np.ndarray, scenarios: np.ndarray, n_resamples: int, seed: int) -> object:
    """The CMNI label-permutation test by ``scipy.stats.permutation_test``.

    The four samples are the state indices of each scenario; an ``independent``
    permutation reassigns the pooled states to samples of the original sizes, which is
    the shuffle of the scenario labels. Returns scipy's ``PermutationTestResult``.
    """

    def cmni(none: np.ndarray, self_: np.ndarray, other: np.ndarray, both: np.ndarray, axis: int) -> np.ndarray:
        means = [activations[group].mean(axis=-2) for group in (none, self_, other)]  # (..., N) each
        mns, _, _ = mns_from_means(*means)
        return mns.mean(axis=-1)

    groups = tuple(np.flatnonzero(scenarios == code) for code in range(4))
    return stats.permutation_test(
        groups, cmni, permutation_type="independent", vectorized=True, n_resamples=n_resamples,
        batch=SCIPY_BATCH, alternative="greater", rng=np.random.default_rng(seed),
    )  # fmt: skip


def compare_with_scipy(activations: np.ndarray, scenarios: np.ndarray, k: int, repeats: int) -> None:
    """Time cmni.permutation_test and scipy's, alternating, and print both and the ratio."""
    ours = permutation_test(activations, scenarios, n_permutations=k, seed=0)
    theirs = scipy_permutation_test(activations, scenarios, k, seed=0)
    times: dict[str, list[float]] = {"cmni.permutation_test": [], "scipy.stats.permutation_test": []}
    for _ in range(repeats):
        for name, fn in (
            ("cmni.permutation_test", lambda: permutation_test(activations, scenarios, n_permutations=k, seed=0)),
            ("scipy.stats.permutation_test", lambda: scipy_permutation_test(activations, scenarios, k, seed=0)),
        ):
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"\npermutation test, K={k}, {activations.shape[0]} x {activations.shape[1]} (alternating, median of {repeats})")
    print(f"{'':30s} {'median s':>10s} {'observed':>10s} {'p-value':>8s}")
    print(f"{'cmni.permutation_test':30s} {medians['cmni.permutation_test']:10.4f} {ours.observed:10.6f} {ours.p_value:8.4f}")
    print(
        f"{'scipy.stats.permutation_test':30s} {medians['scipy.stats.permutation_test']:10.4f} "
        f"{float(theirs.statistic):10.6f} {float(theirs.pvalue):8.4f}"
    )
    ratio = medians["scipy.stats.permutation_test"] / medians["cmni.permutation_test"]
    print(f"scipy / cmni time ratio: {ratio:.1f}")


def run(args: argparse.Namespace) -> None:
    print(f"BLAS threads: {args.blas_threads or 'library default'}")
    rng = np.random.default_rng(0)
    activations = rng.normal(size=(args.states, args.neurons))
    scenarios = rng.integers(0, 4, args.states)
    activations[:, :8] += 0.3 * (scenarios[:, None] > 0)  # a few mirror units, so the p-value is not 1
    k = args.permutations
    rows = [
        (f"compute_cmni, {args.states} x {args.neurons}", median_seconds(lambda: compute_cmni(activations, scenarios), args.repeats)),
        (
            f"permutation_test K={k}, {args.states} x {args.neurons}",
            median_seconds(lambda: permutation_test(activations, scenarios, n_permutations=k), args.repeats),
        ),
        (
            "build_probe_set, 1000 per scenario",
            median_seconds(lambda: build_probe_set(EnvConfig(), per_scenario=1000, seed=0), args.repeats),
        ),
    ]
    print(f"{'what':40s} {'median s':>10s}")
    for name, seconds in rows:
        print(f"{name:40s} {seconds:10.4f}")
    compare_with_scipy(activations, scenarios, k, args.repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--states", type=int, default=8000)
    parser.add_argument("--neurons", type=int, default=256)
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--blas-threads", type=int, default=1, help="BLAS threads; 0 = the library's default")
    args = parser.parse_args()
    blas = threadpool_limits(limits=args.blas_threads, user_api="blas") if args.blas_threads > 0 else nullcontext()
    with blas:
        run(args)


if __name__ == "__main__":
    main()
