"""Tests for passk.metrics: the unbiased pass@k estimator and bootstrap intervals."""

import doctest
import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import passk.metrics
import passk.metrics.bootstrap
import passk.metrics.passk
from passk.metrics import (
    PassAtK,
    bootstrap_ci,
    estimate_pass_at_k,
    mean_pass_at_k,
    pass_at_k,
    summarize_pass_at_k,
)


def exact_pass_at_k(n: int, c: int, k: int) -> float:
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


@st.composite
def counts(draw: st.DrawFn, max_n: int = 300) -> tuple[int, int, int]:
    n = draw(st.integers(1, max_n))
    return n, draw(st.integers(0, n)), draw(st.integers(1, n))


# --- pass_at_k against exact rational arithmetic -------------------------------------------


def test_matches_exact_arithmetic_for_n_200_all_c() -> None:
    for k in (1, 10, 100):
        for c in range(201):
            assert pass_at_k(200, c, k) == pytest.approx(exact_pass_at_k(200, c, k), abs=1e-12)


def test_matches_exact_arithmetic_for_all_small_cases() -> None:
    for n in range(1, 31):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(exact_pass_at_k(n, c, k), abs=1e-12)


@given(counts(max_n=1000))
def test_matches_exact_arithmetic_property(nck: tuple[int, int, int]) -> None:
    assert pass_at_k(*nck) == pytest.approx(exact_pass_at_k(*nck), abs=1e-12)


def test_pass_at_1_is_the_fraction_correct() -> None:
    assert pass_at_k(200, 10, 1) == pytest.approx(0.05, abs=1e-15)
    assert pass_at_k(7, 3, 1) == pytest.approx(3 / 7, abs=1e-15)


def test_returns_python_float() -> None:
    assert type(pass_at_k(10, 3, 2)) is float


# --- properties ------------------------------------------------------------------------------


@given(counts())
def test_value_is_a_probability(nck: tuple[int, int, int]) -> None:
    assert 0.0 <= pass_at_k(*nck) <= 1.0


@given(st.integers(1, 500).flatmap(lambda n: st.tuples(st.just(n), st.integers(1, n))))
def test_zero_when_nothing_passes(nk: tuple[int, int]) -> None:
    n, k = nk
    assert pass_at_k(n, 0, k) == 0.0


@given(counts())
def test_one_when_every_k_subset_holds_a_correct_sample(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    if n - c < k:
        assert pass_at_k(n, c, k) == 1.0
    elif Fraction(math.comb(n - c, k), math.comb(n, k)) > 1e-15:
        # Below that, 1 - C(n-c,k)/C(n,k) rounds to 1.0 in float64 anyway.
        assert pass_at_k(n, c, k) < 1.0


@given(counts())
def test_monotone_in_c(nck: tuple[int, int, int]) -> None:
    n, _, k = nck
    values = [pass_at_k(n, c, k) for c in range(n + 1)]
    assert all(a <= b for a, b in itertools.pairwise(values))


@given(counts())
def test_monotone_in_k(nck: tuple[int, int, int]) -> None:
    n, c, _ = nck
    values = [pass_at_k(n, c, k) for k in range(1, n + 1)]
    assert all(a <= b for a, b in itertools.pairwise(values))


@given(
    st.integers(1, 50).flatmap(
        lambda k: st.tuples(
            st.just(k),
            st.lists(
                st.integers(k, 200).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))),
                min_size=1,
                max_size=30,
            ),
        )
    )
)
def test_vectorised_equals_scalar(case: tuple[int, list[tuple[int, int]]]) -> None:
    k, problems = case
    n = [p[0] for p in problems]
    c = [p[1] for p in problems]
    vector = estimate_pass_at_k(n, c, k)
    assert vector.dtype == np.float64
    assert vector.shape == (len(problems),)
    assert vector.tolist() == [pass_at_k(ni, ci, k) for ni, ci in problems]
    assert mean_pass_at_k(n, c, k) == pytest.approx(np.mean(vector), abs=1e-15)


def test_vectorised_broadcasts_an_int_n() -> None:
    c = np.array([0, 3, 20, 7])
    expected = [pass_at_k(20, int(ci), 5) for ci in c]
    assert estimate_pass_at_k(20, c, 5).tolist() == expected
    assert estimate_pass_at_k(np.int64(20), c, 5).tolist() == expected
    assert mean_pass_at_k(20, c, 5) == pytest.approx(sum(expected) / 4, abs=1e-15)


def test_vectorised_empty_input_is_empty_and_mean_refuses_it() -> None:
    assert estimate_pass_at_k(10, [], 1).shape == (0,)
    with pytest.raises(ValueError, match="empty"):
        mean_pass_at_k(10, [], 1)


# --- why the unbiased estimator matters ------------------------------------------------------


@pytest.mark.parametrize(("n", "c", "k"), [(10, 1, 5), (20, 2, 10), (200, 10, 100), (100, 50, 2)])
def test_naive_estimator_is_strictly_lower(n: int, c: int, k: int) -> None:
    naive = 1 - (1 - c / n) ** k
    unbiased = pass_at_k(n, c, k)
    assert naive < unbiased - 1e-3
    assert unbiased == pytest.approx(exact_pass_at_k(n, c, k), abs=1e-12)


@given(counts())
def test_naive_estimator_never_exceeds_unbiased(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    assert 1 - (1 - c / n) ** k <= pass_at_k(n, c, k) + 1e-12


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ((5, 2, 6), "k"),
        ((5, 6, 1), "c"),
        ((5, -1, 1), "c"),
        ((0, 0, 1), "n"),
        ((-3, 0, 1), "n"),
        ((5, 2, 0), "k"),
        ((5, 2, -1), "k"),
        ((True, 0, 1), "n"),
        ((5, False, 1), "c"),
        ((5, 2, True), "k"),
        ((5.0, 2, 1), "n"),
        ((5, 2, 1.0), "k"),
        (("5", 2, 1), "n"),
    ],
)
def test_scalar_validation(args: tuple[object, object, object], name: str) -> None:
    with pytest.raises(ValueError, match=rf"^{name}\b") as info:
        pass_at_k(*args)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_numpy_integers_are_accepted() -> None:
    value = pass_at_k(np.int64(10), np.int32(3), np.uint8(2))  # type: ignore[arg-type]
    assert value == pass_at_k(10, 3, 2)


def test_vectorised_validation_names_the_problem() -> None:
    with pytest.raises(ValueError, match=r"k=5 exceeds n for problem 2 \(n=4"):
        estimate_pass_at_k([10, 10, 4, 3], [1, 2, 3, 0], 5)
    with pytest.raises(ValueError, match=r"c exceeds n for problem 1"):
        estimate_pass_at_k(10, [1, 11], 1)
    with pytest.raises(ValueError, match=r"c must be >= 0 for problem 0"):
        estimate_pass_at_k(10, [-1, 1], 1)
    with pytest.raises(ValueError, match=r"n must be >= 1 for problem 1"):
        estimate_pass_at_k([3, 0], [0, 0], 1)


@pytest.mark.parametrize(
    ("n", "c", "k", "pattern"),
    [
        (10, [1, 2], 0, r"^k must be >= 1"),
        (10, [1, 2], True, r"^k must be an integer"),
        (True, [1, 0], 1, r"^n must be an integer"),
        (10, [True, False], 1, r"^c must hold integers"),
        (10, [1.0, 2.0], 1, r"^c must hold integers"),
        ([10.0, 10.0], [1, 2], 1, r"^n must hold integers"),
        ([10, 10, 10], [1, 2], 1, r"^n has 3 entries but c has 2"),
        (10, [[1, 2]], 1, r"^c must be one-dimensional"),
    ],
)
def test_vectorised_validation(n: object, c: object, k: object, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        estimate_pass_at_k(n, c, k)  # type: ignore[arg-type]


# --- bootstrap ---------------------------------------------------------------------------------

PATTERN = [1.0, 0.0, 0.0, 1.0, 0.0]  # Bernoulli with p = 0.4


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    values = np.random.default_rng(7).random(500)
    assert bootstrap_ci(values, seed=3) == bootstrap_ci(values, seed=3)
    assert bootstrap_ci(values, seed=3) != bootstrap_ci(values, seed=4)


def test_bootstrap_accepts_a_list_and_returns_floats() -> None:
    low, high = bootstrap_ci(PATTERN * 4, resamples=500)
    assert type(low) is float and type(high) is float
    assert low < high


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=60), st.integers(0, 2**32 - 1))
def test_bootstrap_interval_contains_the_mean(values: list[float], seed: int) -> None:
    low, high = bootstrap_ci(values, resamples=400, seed=seed)
    mean = float(np.mean(values))
    # Slack only for float rounding: the resampled means are computed in a different order.
    assert low - 1e-12 <= mean <= high + 1e-12
    assert min(values) - 1e-12 <= low <= high <= max(values) + 1e-12


@pytest.mark.parametrize("values", [[0.3], [0.25] * 50, [1.0, 1.0], [0.0] * 3])
def test_bootstrap_degenerate_cases(values: list[float]) -> None:
    assert bootstrap_ci(values) == (values[0], values[0])


def test_bootstrap_width_shrinks_with_more_problems() -> None:
    low_10, high_10 = bootstrap_ci(PATTERN * 2, seed=0)
    low_1000, high_1000 = bootstrap_ci(PATTERN * 200, seed=0)
    # The standard error falls as 1/sqrt(problems): a factor 10 here.
    assert (high_1000 - low_1000) < (high_10 - low_10) / 5
    assert low_1000 < 0.4 < high_1000


def test_bootstrap_width_matches_the_normal_approximation() -> None:
    low, high = bootstrap_ci(PATTERN * 200, confidence=0.95, seed=0)
    half_width = 1.959964 * math.sqrt(0.4 * 0.6 / 1000)
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.1)
    assert (low + high) / 2 == pytest.approx(0.4, abs=0.005)


def test_bootstrap_higher_confidence_is_wider() -> None:
    values = PATTERN * 20
    low_90, high_90 = bootstrap_ci(values, confidence=0.90)
    low_99, high_99 = bootstrap_ci(values, confidence=0.99)
    assert low_99 < low_90 < high_90 < high_99


def test_bootstrap_chunks_cover_every_resample(monkeypatch: pytest.MonkeyPatch) -> None:
    # Force chunks of 3 resamples so that the last chunk is partial.
    monkeypatch.setattr(passk.metrics.bootstrap, "_CHUNK_ELEMENTS", 3 * len(PATTERN))
    means = passk.metrics.bootstrap._resampled_means(np.array(PATTERN), 10, seed=0)
    assert means.shape == (10,)
    assert set(np.round(means * 5).tolist()) <= {0.0, 1.0, 2.0, 3.0, 4.0, 5.0}
    assert len(set(means.tolist())) > 1


@pytest.mark.parametrize(
    ("values", "kwargs", "pattern"),
    [
        ([], {}, "empty"),
        ([[0.1, 0.2]], {}, "one-dimensional"),
        ([0.1, float("nan")], {}, "finite"),
        ([0.1, 0.2], {"confidence": 1.0}, "confidence"),
        ([0.1, 0.2], {"confidence": 0.0}, "confidence"),
        ([0.1, 0.2], {"resamples": 0}, "resamples"),
        ([0.1, 0.2], {"resamples": True}, "resamples"),
    ],
)
def test_bootstrap_validation(values: list[float], kwargs: dict[str, object], pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        bootstrap_ci(values, **kwargs)  # type: ignore[arg-type]


# --- summarize_pass_at_k ------------------------------------------------------------------------


def test_summary_keeps_order_and_marks_uncomputable_ks() -> None:
    n = [20, 50, 20]
    c = [3, 0, 20]
    results = summarize_pass_at_k(n, c, [100, 1, 20, 21, 10], resamples=500)
    assert [r.k for r in results] == [100, 1, 20, 21, 10]
    for r in results:
        if r.k > 20:
            assert r.value is None and r.ci_low is None and r.ci_high is None
            assert r.reason == f"k={r.k} exceeds the smallest number of samples per problem (20)"
        else:
            assert r.reason is None
            assert r.value == pytest.approx(mean_pass_at_k(n, c, r.k), abs=1e-15)
            assert r.value is not None and r.ci_low is not None and r.ci_high is not None
            assert r.ci_low <= r.value <= r.ci_high


def test_summary_interval_is_the_bootstrap_of_the_per_problem_values() -> None:
    c = [0, 1, 5, 10, 3, 3, 0]
    (result,) = summarize_pass_at_k(10, c, [2], resamples=300, seed=5)
    expected = bootstrap_ci(estimate_pass_at_k(10, c, 2), resamples=300, seed=5)
    assert (result.ci_low, result.ci_high) == expected


def test_summary_to_dict_is_json_ready() -> None:
    results = summarize_pass_at_k([5, 5], [1, 2], [1, 10], resamples=200)
    dicts = [r.to_dict() for r in results]
    assert json.loads(json.dumps(dicts)) == dicts
    assert dicts[1] == {
        "k": 10,
        "value": None,
        "ci_low": None,
        "ci_high": None,
        "reason": "k=10 exceeds the smallest number of samples per problem (5)",
    }
    assert set(dicts[0]) == {"k", "value", "ci_low", "ci_high", "reason"}


def test_pass_at_k_is_frozen() -> None:
    result = PassAtK(k=1, value=0.5, ci_low=0.4, ci_high=0.6)
    with pytest.raises(AttributeError):
        result.value = 0.7  # type: ignore[misc]


def test_summary_validation() -> None:
    with pytest.raises(ValueError, match="empty"):
        summarize_pass_at_k([], [], [1])
    with pytest.raises(ValueError, match="n must be >= 1 for problem 0"):
        summarize_pass_at_k([0, 5], [0, 1], [1])
    with pytest.raises(ValueError, match="k must be >= 1"):
        summarize_pass_at_k([5, 5], [0, 1], [1, 0])


# --- doctests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [passk.metrics, passk.metrics.passk, passk.metrics.bootstrap])
def test_doctests(module: object) -> None:
    failed, attempted = doctest.testmod(module, verbose=False)  # type: ignore[arg-type]
    assert failed == 0
    if module is not passk.metrics:
        assert attempted > 0
