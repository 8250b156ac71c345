"""Percentile bootstrap confidence intervals for a benchmark score.

A pass@k score (Chen et al. 2021, section 2.1, the unbiased estimator) is a mean over a fixed,
small set of problems, so its uncertainty is dominated by which problems happen to be in the
benchmark. This module adds `bootstrap_ci`: resample the problems with replacement, take the
mean of each resample, and report the central percentiles of those means.
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["bootstrap_ci"]

# Elements per chunk of the index matrix: 2**22 int64 indices is 32 MiB, whatever the number
# of problems, so memory stays bounded even for large benchmarks.
_CHUNK_ELEMENTS = 2**22


def _check_arguments(values: npt.NDArray[np.float64], confidence: float, resamples: int) -> None:
    if values.ndim != 1:
        raise ValueError("per_problem must be one-dimensional (one value per problem)")
    if values.size == 0:
        raise ValueError("per_problem is empty; a confidence interval needs at least one problem")
    if not np.all(np.isfinite(values)):
        raise ValueError("per_problem must hold finite numbers only")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 1:
        raise ValueError(f"resamples must be a positive integer, got {resamples!r}")


def _resampled_means(
    values: npt.NDArray[np.float64], resamples: int, seed: int
) -> npt.NDArray[np.float64]:
    rng = np.random.default_rng(seed)
    size = values.size
    rows_per_chunk = max(1, _CHUNK_ELEMENTS // size)
    means = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, rows_per_chunk):
        rows = min(rows_per_chunk, resamples - start)
        indices = rng.integers(0, size, size=(rows, size))
        means[start : start + rows] = values[indices].mean(axis=1)
    return means


def bootstrap_ci(
    per_problem: Sequence[float] | npt.NDArray[np.floating],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of per-problem scores (problems resampled).

    >>> bootstrap_ci([0.5])
    (0.5, 0.5)
    >>> low, high = bootstrap_ci([0.0, 1.0] * 50, seed=1)
    >>> 0.35 < low < 0.5 < high < 0.65
    True
    """
    values = np.asarray(per_problem, dtype=np.float64)
    _check_arguments(values, confidence, resamples)
    # Every resample of identical values has the same mean; sampling would only add rounding.
    if np.all(values == values[0]):
        return float(values[0]), float(values[0])
    means = _resampled_means(values, resamples, seed)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return float(low), float(high)
