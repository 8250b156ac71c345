"""The summary of a run's results: pass@k with confidence intervals, coverage, outcome counts.

`passk evaluate` writes it as `results.summary.json`; the report computes it where a run lacks
that file. pass@k is the unbiased estimator of Chen et al. (2021), section 2.1. For benchmarks
whose problems have public examples and levels (APPS), it adds the paper's Table 2 metrics
(`case_metrics`): raw and filtered pass@k, each also with timeouts counted as passes (the
paper's brackets), overall and per difficulty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from passk.benchmarks import Benchmark
from passk.benchmarks.apps import DIFFICULTIES
from passk.metrics import filtered_pass_at_k, mean_pass_at_k, summarize_pass_at_k
from passk.outcome import Outcome
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
    summary: dict[str, Any] = {
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
    table2 = case_metrics(results, bench, ks)
    for task, kept in table2.pop("passed_examples", {}).items():
        summary["per_problem"][task]["passed_examples"] = kept
    return {**summary, **table2}


@dataclass
class _Counts:
    """One problem's samples, and of them: passed (or, counting timeouts, timed out), kept by
    the examples filter, and kept and correct; each with and without timeouts as passes."""

    n: int = 0
    correct: list[int] = field(default_factory=lambda: [0, 0])
    kept: list[int] = field(default_factory=lambda: [0, 0])
    kept_correct: list[int] = field(default_factory=lambda: [0, 0])

    def add(self, result: Result, examples: int) -> None:
        self.n += 1
        for timeouts in (0, 1):
            correct = result.passed or (timeouts and result.outcome is Outcome.TIMED_OUT)
            kept = correct or passes_examples(result, examples)
            self.correct[timeouts] += correct
            self.kept[timeouts] += kept
            self.kept_correct[timeouts] += kept and correct


def passes_examples(result: Result, examples: int) -> bool:
    """Whether a sample that did not pass passed its problem's first `examples` test cases: it
    failed or timed out on a later case. A failure that names no case (a call-based program
    that timed out) does not count as passing them."""
    case = result.failed_case
    return case is not None and case > examples


def case_metrics(results: list[Result], bench: Benchmark, ks: Sequence[int]) -> dict[str, Any]:
    """Table 2's metrics where the benchmark's problems have public examples: raw pass@k,
    filtered pass@k and both with timeouts counted as passes, overall and per difficulty
    (k past a group's fewest samples is left out); nothing for other benchmarks."""
    if not any(p.examples for p in bench.problems.values()):
        return {}
    counts: dict[str, _Counts] = {}
    for result in results:
        examples = bench.problems[result.task_id].examples
        counts.setdefault(result.task_id, _Counts()).add(result, examples)
    levels: dict[str, list[_Counts]] = {}
    for task, count in counts.items():
        levels.setdefault(bench.problems[task].difficulty or "unknown", []).append(count)
    return {
        "passed_examples": {task: count.kept[0] for task, count in counts.items()},
        "examples_filter": _table2(list(counts.values()), ks),
        "per_difficulty": {
            level: _table2(levels[level], ks) for level in sorted(levels, key=_rank)
        },
    }


def _rank(level: str) -> tuple[int, str]:
    """APPS's levels in the paper's order, then any other, by name."""
    known = DIFFICULTIES.index(level) if level in DIFFICULTIES else len(DIFFICULTIES)
    return known, level


def _table2(group: list[_Counts], ks: Sequence[int]) -> dict[str, Any]:
    fewest = min(c.n for c in group)
    table: dict[str, Any] = {"problems": len(group), "samples": sum(c.n for c in group)}
    for timeouts, suffix in ((0, ""), (1, "_timeouts_as_passes")):
        n = [c.n for c in group]
        raw = [c.correct[timeouts] for c in group]
        kept = [c.kept[timeouts] for c in group]
        kept_correct = [c.kept_correct[timeouts] for c in group]
        table[f"raw{suffix}"] = {f"pass@{k}": mean_pass_at_k(n, raw, k) for k in ks if k <= fewest}
        table[f"filtered{suffix}"] = {
            f"pass@{k}": filtered_pass_at_k(kept, kept_correct, k) for k in ks if k <= fewest
        }
        table[f"kept{suffix}"] = sum(kept)
    return table
