"""Choosing one sample out of k by a heuristic (Chen et al. 2021, section 3.3, Figure 7).

For each k, a heuristic picks ONE sample from a uniformly random k-subset of a problem's n
samples; the curve is the expected pass rate of that pick, averaged over problems:

- `random`: any sample, so c/n (pass@1) at every k;
- `oracle`: a correct one whenever the subset has one, so pass@k;
- `mean_logp`, `sum_logp`: the sample with the highest mean (sum) token log-probability;
- `back_translation`: the sample whose code makes the problem's docstring most likely,
  log P(docstring | code) (the paper's Codex-D ranking; see `backtranslation` for the template);
- `examples`: a sample that passes the `>>>` examples of the prompt's docstring, run in the
  sandbox (a ranking the paper did not have; see `examples`). Ties, such as several samples
  passing, are broken by mean log-probability (a sample without one comes last); on problems
  without examples this is the mean_logp ranking.

The expectation over k-subsets is computed exactly, not by drawing subsets: with samples sorted
by score and a tie group at sorted positions a..a+g-1, the subset's top lands in the group with
probability (C(n-a, k) - C(n-a-g, k)) / C(n, k); tied samples are equally likely to be picked,
so the group adds that probability times its share of correct samples. For a group of one this
is the familiar C(n-r, k-1) / C(n, k) for rank r = a+1.

Any per-sample score ranks the same way: pass `scores={"name": function}` to `rank_curves`.
A score may be a tuple, compared in order (the examples ranking is (passes, mean_logp)).
`passk.scoring.rank_run` is `passk rank`: it computes the back-translation and examples scores
(which need a model or the sandbox) when asked, then ranks here.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from passk.analysis.examples import FIELD as EXAMPLES_FIELD
from passk.errors import InputError
from passk.metrics import estimate_pass_at_k
from passk.records import Result, read_jsonl

Key = float | tuple[float, ...]
Score = Callable[[dict[str, Any]], Key | None]
"""A per-sample score from its results row (higher is preferred); None when it has none."""

EXPECTATION = "exact: averaged over every k-subset in closed form, tied samples picked evenly"

LOGP_FIELDS = ("mean_logp", "sum_logp")


@dataclass
class _Problem:
    rows: list[dict[str, Any]]
    passed: npt.NDArray[np.bool_]


def field_score(field: str) -> Callable[[dict[str, Any]], float | None]:
    """The score read from a numeric field of the row, e.g. field_score("mean_logp").

    An empty completion (`num_tokens` 0) has no mean log-probability: it scores -inf, last.
    """

    def score(row: dict[str, Any]) -> float | None:
        value = row.get(field)
        if value is None:
            return -math.inf if row.get("num_tokens") == 0 else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(f"{row['task_id']}: {field} is {value!r}, not a number")
        return float(value)

    return score


def subset_top_probabilities(n: int, k: int) -> npt.NDArray[np.float64]:
    """C(n-a, k) / C(n, k) for a = 0..n: the chance a random k-subset avoids the first a.

    >>> subset_top_probabilities(4, 2).round(4).tolist()
    [1.0, 0.5, 0.1667, 0.0, 0.0]
    """
    a = np.arange(n, dtype=np.float64)
    factors = np.clip((n - a - k) / (n - a), 0.0, 1.0)  # C(n-a-1,k)/C(n-a,k) = (n-a-k)/(n-a)
    return np.concatenate(([1.0], np.cumprod(factors)))


def ranked_pass_rate(scores: Sequence[Key], passed: Sequence[bool], k: int) -> float:
    """Expected pass rate of the top-scored sample of a random k-subset (ties split evenly).

    >>> round(ranked_pass_rate([0.9, 0.5, 0.1], [True, False, False], 1), 6)
    0.333333
    >>> ranked_pass_rate([0.9, 0.5, 0.1], [True, False, False], 3)
    1.0
    """
    n = len(scores)
    if not 1 <= k <= n:
        raise ValueError(f"k={k} is outside 1..{n}")
    return _group_pass_rate(tie_groups(scores, passed), subset_top_probabilities(n, k))


TieGroups = tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.float64]]


def tie_groups(scores: Sequence[Key], passed: Sequence[bool]) -> TieGroups:
    """Samples sorted by score, descending, as groups of equal score: (starts, ends, shares
    of correct samples), positions counted from 0 and ends exclusive."""
    keys = [_as_tuple(s) for s in scores]
    order = sorted(range(len(keys)), key=lambda i: keys[i], reverse=True)
    starts: list[int] = []
    shares: list[list[bool]] = []
    for a, i in enumerate(order):
        if a == 0 or keys[i] != keys[order[a - 1]]:
            starts.append(a)
            shares.append([])
        shares[-1].append(bool(passed[i]))
    ends = [*starts[1:], len(order)]
    return (
        np.array(starts, dtype=np.int64),
        np.array(ends, dtype=np.int64),
        np.array([np.mean(group) for group in shares], dtype=np.float64),
    )


def _as_tuple(key: Key) -> tuple[float, ...]:
    return key if isinstance(key, tuple) else (key,)


def _group_pass_rate(groups: TieGroups, avoid: npt.NDArray[np.float64]) -> float:
    starts, ends, shares = groups
    return float(np.dot(avoid[starts] - avoid[ends], shares))


def rank_curves(
    results: str | os.PathLike[str] | Iterable[dict[str, Any]],
    *,
    ks: Sequence[int] | None = None,
    scores: Mapping[str, Score] | None = None,
) -> dict[str, Any]:
    """Figure 7's curves: per heuristic a list of (k, expected pass rate), plus the skipped.

    `results` is a results JSONL path (from `passk evaluate`) or its rows; `ks` defaults to
    1..n for the smallest per-problem n; `scores` defaults to mean_logp and sum_logp.
    """
    problems = {t: _Problem(rows, _passed(rows)) for t, rows in group_by_task(results).items()}
    n_min = min(len(p.rows) for p in problems.values())
    ks = _check_ks(ks, n_min, problems)
    scores = {f: field_score(f) for f in LOGP_FIELDS} if scores is None else scores
    curves: dict[str, list[tuple[int, float]]] = {
        "random": [(k, _mean(p.passed.mean() for p in problems.values())) for k in ks],
        "oracle": [(k, _oracle(problems, k)) for k in ks],
    }
    skipped: dict[str, str] = {}
    for name, score in scores.items():
        values, reason = _score_all(problems, name, score)
        if reason is not None:
            skipped[name] = reason
            continue
        groups = {t: tie_groups(values[t], p.passed.tolist()) for t, p in problems.items()}
        curves[name] = [(k, _ranked(problems, groups, k)) for k in ks]
    return {
        "problems": len(problems),
        "samples": sum(len(p.rows) for p in problems.values()),
        "expectation": EXPECTATION,
        "ks": list(ks),
        "curves": curves,
        "skipped": skipped,
    }


def _mean(values: Iterable[float]) -> float:
    return float(np.mean(list(values)))


def _oracle(problems: dict[str, _Problem], k: int) -> float:
    n = [len(p.rows) for p in problems.values()]
    c = [int(p.passed.sum()) for p in problems.values()]
    return float(estimate_pass_at_k(n, c, k).mean())


def _ranked(problems: dict[str, _Problem], groups: dict[str, TieGroups], k: int) -> float:
    avoid = {n: subset_top_probabilities(n, k) for n in {len(p.rows) for p in problems.values()}}
    return _mean(_group_pass_rate(groups[t], avoid[len(p.rows)]) for t, p in problems.items())


def _score_all(
    problems: dict[str, _Problem], name: str, score: Score
) -> tuple[dict[str, list[Key]], str | None]:
    values: dict[str, list[Key]] = {}
    missing = 0
    for task_id, problem in problems.items():
        scored = [score(row) for row in problem.rows]
        missing += sum(s is None for s in scored)
        if any(s is not None and any(map(math.isnan, _as_tuple(s))) for s in scored):
            raise InputError(f"{task_id}: a sample's {name} is NaN; ranking needs a number")
        values[task_id] = [s for s in scored if s is not None]
    if missing == 0:
        return values, None
    total = sum(len(p.rows) for p in problems.values())
    hint = ""
    if name in LOGP_FIELDS:
        hint = (
            f": ranking by it needs samples from passk generate (or any source that records {name})"
        )
    return values, f"{name} missing for {missing} of {total} samples{hint}"


def group_by_task(
    results: str | os.PathLike[str] | Iterable[dict[str, Any]],
) -> dict[str, list[dict[str, Any]]]:
    """The results rows (checked) of each task, in first-seen order."""
    if isinstance(results, (str, os.PathLike)):
        where, rows = str(Path(results)), read_jsonl(results)
    else:
        where, rows = "results", enumerate(results, start=1)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for number, row in rows:
        if not isinstance(row, dict):
            raise InputError(f"{where}:{number}: expected a results row")
        result = Result.from_row(
            row, where=f"{where}:{number}", hint="rank a results file from passk evaluate"
        )
        grouped.setdefault(result.task_id, []).append(row)
    if not grouped:
        raise InputError(f"{where}: no results to rank")
    return grouped


def _passed(rows: list[dict[str, Any]]) -> npt.NDArray[np.bool_]:
    return np.array([r["passed"] for r in rows], dtype=bool)


def _check_ks(ks: Sequence[int] | None, n_min: int, problems: dict[str, _Problem]) -> list[int]:
    if ks is None:
        return list(range(1, n_min + 1))
    for k in ks:
        if k < 1:
            raise InputError(f"--k: {k} is not a positive sample count")
        if k > n_min:
            fewest = min(problems, key=lambda t: len(problems[t].rows))
            raise InputError(f"--k: {k} exceeds the {n_min} samples of {fewest}")
    return sorted(set(ks))


def examples_score(row: dict[str, Any]) -> tuple[float, float]:
    """(1 if the sample passes its prompt's examples else 0, mean_logp or -inf if it has none);
    0 for every sample of a problem without examples, so mean_logp ranks those.

    >>> examples_score({"task_id": "t", "passes_examples": True, "mean_logp": -0.5})
    (1.0, -0.5)
    """
    mean_logp = field_score("mean_logp")(row)
    return (
        float(row.get(EXAMPLES_FIELD) is True),
        -math.inf if mean_logp is None else mean_logp,
    )
