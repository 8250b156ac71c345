"""The summary of a run's results: pass@k with confidence intervals, coverage, outcome counts.

`passk evaluate` writes it as `results.summary.json`; the report computes it where a run lacks
that file. pass@k is the unbiased estimator of Chen et al. (2021), section 2.1.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from passk.benchmarks import Benchmark
from passk.metrics import summarize_pass_at_k
from passk.records import Result
from passk.records.result import pass_counts


def summarize(results: Iterable[Result], bench: Benchmark, ks: Sequence[int]) -> dict[str, Any]:
    """pass@k with confidence intervals, coverage and outcome counts for a list of results."""
    results = list(results)
    per_task = pass_counts(results)
    outcomes = Counter(r.outcome.value for r in results)
    errors = Counter(r.error for r in results if r.error)
    n = [v[0] for v in per_task.values()]
    c = [v[1] for v in per_task.values()]
    scores = summarize_pass_at_k(n, c, ks)
    return {
        "benchmark": bench.name,
        "pass_at_k": {f"pass@{s.k}": s.value for s in scores},
        "confidence_intervals": {
            f"pass@{s.k}": [s.ci_low, s.ci_high] for s in scores if s.value is not None
        },
        "not_computable": {f"pass@{s.k}": s.reason for s in scores if s.value is None},
        "confidence": 0.95,
        "problems": len(per_task),
        "benchmark_problems": len(bench.problems),
        "samples": len(results),
        "samples_per_problem": {"min": min(n), "max": max(n)},
        "outcomes": dict(outcomes.most_common()),
        "errors": dict(errors.most_common()),
        "per_problem": {task: {"n": v[0], "passed": v[1]} for task, v in per_task.items()},
    }
