"""The unbiased pass@k estimator, per problem and over a benchmark.

Chen et al. 2021 ("Evaluating Large Language Models Trained on Code"), section 2.1: draw
n >= k samples per problem, count the c that pass the unit tests, and estimate
pass@k = E[1 - C(n-c, k) / C(n, k)]. The naive 1 - (1 - c/n)^k underestimates pass@k, so it
is not used here. The binomial ratio is computed as the product prod_{i=n-c+1}^{n} (1 - k/i),
which never forms the huge binomials and stays accurate in float64.

This module adds `pass_at_k` (one problem), `estimate_pass_at_k` (per problem, vectorised),
`mean_pass_at_k` (the benchmark score) and `summarize_pass_at_k`, which reports each requested
k with a bootstrap confidence interval, or says why it cannot be computed; and
`filtered_pass_at_k`, the paper's filtered pass@k for APPS (Table 2): only the samples that pass
a problem's public examples are kept, and pass@k is computed over those.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .bootstrap import bootstrap_ci

__all__ = [
    "PassAtK",
    "estimate_pass_at_k",
    "filtered_pass_at_k",
    "mean_pass_at_k",
    "pass_at_k",
    "summarize_pass_at_k",
]


def _check_int(name: str, value: object, minimum: int) -> int:
    # bool is a subclass of int, but pass_at_k(True, ...) is always a caller's mistake.
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_counts(n: int, c: int, k: int) -> None:
    n = _check_int("n", n, 1)
    c = _check_int("c", c, 0)
    k = _check_int("k", k, 1)
    if c > n:
        raise ValueError(f"c={c} exceeds n={n} (more correct samples than samples)")
    if k > n:
        raise ValueError(f"k={k} exceeds n={n}; pass@k needs at least k samples")


def _unchecked_pass_at_k(n: int, c: int, k: int) -> float:
    # Every size-k subset then contains a correct sample.
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1, dtype=np.float64)))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with n samples of which c are correct.

    >>> round(pass_at_k(200, 10, 1), 6)
    0.05
    >>> pass_at_k(5, 5, 1)
    1.0
    >>> pass_at_k(5, 0, 3)
    0.0
    """
    _check_counts(n, c, k)
    return _unchecked_pass_at_k(n, c, k)


def _as_int_array(name: str, values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (one entry per problem)")
    # An empty list comes back as float64, yet holds no non-integer.
    if array.size and array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integers, got dtype {array.dtype}")
    return array.astype(np.int64)


def _per_problem_counts(
    n: int | npt.ArrayLike, c: npt.ArrayLike, k: int
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    _check_int("k", k, 1)
    c_arr = _as_int_array("c", c)
    if isinstance(n, int | np.integer):
        n_arr = np.full(c_arr.shape, _check_int("n", n, 1), dtype=np.int64)
    else:
        n_arr = _as_int_array("n", n)
    if n_arr.shape != c_arr.shape:
        raise ValueError(f"n has {n_arr.size} entries but c has {c_arr.size}")
    checks = [
        (n_arr < 1, "n must be >= 1"),
        (c_arr < 0, "c must be >= 0"),
        (c_arr > n_arr, "c exceeds n"),
        (n_arr < k, f"k={k} exceeds n"),
    ]
    for bad, message in checks:
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"{message} for problem {i} (n={n_arr[i]}, c={c_arr[i]})")
    return n_arr, c_arr


def estimate_pass_at_k(n: int | npt.ArrayLike, c: npt.ArrayLike, k: int) -> npt.NDArray[np.float64]:
    """Unbiased pass@k per problem; n is per problem or one int shared by all problems.

    >>> estimate_pass_at_k(10, [0, 5, 10], 1).round(6).tolist()
    [0.0, 0.5, 1.0]
    >>> estimate_pass_at_k([4, 10], [1, 1], 4).round(6).tolist()
    [1.0, 0.4]
    """
    n_arr, c_arr = _per_problem_counts(n, c, k)
    # One short product per problem; benchmarks have hundreds of problems, not millions.
    values = [
        _unchecked_pass_at_k(int(ni), int(ci), k) for ni, ci in zip(n_arr, c_arr, strict=True)
    ]
    return np.array(values, dtype=np.float64)


def mean_pass_at_k(n: int | npt.ArrayLike, c: npt.ArrayLike, k: int) -> float:
    """The benchmark score: pass@k averaged over problems.

    >>> mean_pass_at_k(10, [0, 10], 1)
    0.5
    """
    per_problem = estimate_pass_at_k(n, c, k)
    if per_problem.size == 0:
        raise ValueError("c is empty; pass@k needs at least one problem")
    return float(per_problem.mean())


@dataclass(frozen=True)
class PassAtK:
    """pass@k for one k: its value and confidence interval, or the reason it has none."""

    k: int
    value: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, int | float | str | None]:
        return {
            "k": self.k,
            "value": self.value,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "reason": self.reason,
        }


def summarize_pass_at_k(
    n: int | Sequence[int] | npt.NDArray[np.integer],
    c: Sequence[int] | npt.NDArray[np.integer],
    ks: Sequence[int],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> list[PassAtK]:
    """pass@k with a bootstrap interval for each k in ks, in order; k > min(n) gets a reason.

    >>> [r.value for r in summarize_pass_at_k([2, 3], [1, 0], [1, 3])]
    [0.25, None]
    """
    # Validate n and c once, up front, so that a bad n is an error rather than a reason.
    n_arr, c_arr = _per_problem_counts(n, c, 1)
    if c_arr.size == 0:
        raise ValueError("c is empty; pass@k needs at least one problem")
    smallest_n = int(n_arr.min())
    results = []
    for k in ks:
        _check_int("k", k, 1)
        if k > smallest_n:
            reason = f"k={k} exceeds the smallest number of samples per problem ({smallest_n})"
            results.append(PassAtK(k=k, value=None, reason=reason))
            continue
        per_problem = estimate_pass_at_k(n_arr, c_arr, k)
        # The same seed for every k resamples the same problems, so the intervals move together.
        low, high = bootstrap_ci(per_problem, confidence=confidence, resamples=resamples, seed=seed)
        results.append(PassAtK(k=k, value=float(per_problem.mean()), ci_low=low, ci_high=high))
    return results


def filtered_pass_at_k(kept: Sequence[int], correct: Sequence[int], k: int) -> float:
    """Filtered pass@k over problems: `kept[i]` samples of problem i passed its public examples,
    `correct[i]` of those pass every test. pass@k is taken over the kept samples only; a
    problem with fewer than k kept submits them all (1 if one is correct, else 0), and one with
    none kept scores 0. Every problem counts in the mean.

    >>> filtered_pass_at_k([4, 1, 0], [2, 1, 0], 1)  # (2/4 + 1 + 0) / 3
    0.5
    >>> round(filtered_pass_at_k([4, 2], [1, 0], 2), 6)  # (1 - C(3,2)/C(4,2) + 0) / 2
    0.25
    """
    _check_int("k", k, 1)
    if len(kept) != len(correct) or not kept:
        raise ValueError("kept and correct must be non-empty and of the same length")
    scores = []
    for n, c in zip(kept, correct, strict=True):
        _check_int("c", c, 0)
        if c > _check_int("kept", n, 0):
            raise ValueError(f"c={c} exceeds the {n} samples kept")
        scores.append(0.0 if c == 0 else 1.0 if n < k else _unchecked_pass_at_k(n, c, k))
    return float(np.mean(scores))
