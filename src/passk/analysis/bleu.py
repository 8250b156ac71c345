"""BLEU against functional correctness (Chen et al. 2021, section 7.3 and Figure 8).

Each sample's sentence BLEU against its problem's canonical solution, the BLEU distributions of
correct and incorrect samples (overall and for a few problems), and one number for how poorly
BLEU tells them apart: the ROC AUC of BLEU as a pass/fail classifier (0.5 = chance).

Tokenisation: code is split by `CODE_TOKEN` into identifiers, numbers, common two-character
operators and single punctuation characters, joined by spaces, and scored by sacrebleu with
tokenize="none" (sentence BLEU, exponential smoothing, effective order). sacrebleu's default
'13a' tokenizer is made for prose: it splits `has_close_elements` into five tokens around `_`
and `>=` into two, so snake_case names alone earn n-gram matches. Whitespace and indentation
are not tokens.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from passk.errors import InputError
from passk.records import Result

CODE_TOKEN = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*|\d+(?:\.\d+)?|==|!=|<=|>=|\*\*|//|->|[-+*/%]=|[^\sA-Za-z0-9_]"
)
TOKENIZATION = (
    "code tokens (identifiers, numbers, two-character operators, single punctuation; "
    "whitespace dropped) joined by spaces, then sacrebleu sentence BLEU with tokenize='none'"
)
_CLASSES = ("correct", "incorrect")


def code_tokens(code: str) -> str:
    """Code as space-separated tokens.

    >>> code_tokens("if x_1>=3.5:\\n    return f(x_1)")
    'if x_1 >= 3.5 : return f ( x_1 )'
    """
    return " ".join(CODE_TOKEN.findall(code))


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """Sentence BLEU (0-100) of one piece of code against one reference, on code tokens."""
    score = _scorer().sentence_score(code_tokens(hypothesis), [code_tokens(reference)])
    return float(score.score)


@functools.cache
def _scorer() -> Any:
    from sacrebleu.metrics import BLEU

    return BLEU(tokenize="none", effective_order=True)


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """P(score of a positive > score of a negative), ties counted half: Mann-Whitney U over
    n_pos * n_neg, from exact (integer, doubled) mid-ranks.

    >>> roc_auc([0.1, 0.5, 0.5, 0.9], [False, False, True, True])
    0.875
    """
    x = np.asarray(scores, dtype=float)
    y = np.asarray(labels, dtype=bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("ROC AUC needs both positive and negative samples")
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts
    twice_rank = (2 * starts + counts + 1)[inverse]  # 2 x mid-rank, 1-based: integers
    twice_u = int(twice_rank[y].sum()) - n_pos * (n_pos + 1)
    return twice_u / (2 * n_pos * n_neg)


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """count, mean, median, quartiles, min and max (None when there are no values)."""
    if not values:
        return {k: None for k in ("mean", "median", "q1", "q3", "min", "max")} | {"count": 0}
    v = np.asarray(values, dtype=float)
    q1, median, q3 = np.percentile(v, [25, 50, 75])
    return {
        "count": len(v),
        "mean": float(v.mean()),
        "median": float(median),
        "q1": float(q1),
        "q3": float(q3),
        "min": float(v.min()),
        "max": float(v.max()),
    }


def bleu_analysis(
    results: str | os.PathLike[str] | Iterable[dict[str, Any]],
    *,
    benchmark: str = "humaneval",
    problems: int = 4,
) -> dict[str, Any]:
    """Figure 8: BLEU of each sample against the canonical solution, by pass/fail, with AUC.

    `results` is a results JSONL path (from `passk evaluate`) or its rows. What cannot be
    computed (a class with no samples, tasks outside the benchmark) is explained under
    "not_computable" and "skipped" while the rest is produced.
    """
    from passk.benchmarks import get_benchmark

    bench = get_benchmark(benchmark)
    rows = _load_rows(results)
    samples, skipped = _score(rows, bench)
    overall, not_computable = _overall(samples)
    per_problem, problem_aucs = _per_problem(samples)
    if not problem_aucs:
        not_computable["auc_per_problem"] = "no problem has both correct and incorrect samples"
    shown = _shown_problems(per_problem, problems)
    if not shown:
        not_computable["problems"] = "no problem has both correct and incorrect samples"
    return {
        "benchmark": bench.name,
        "tokenization": TOKENIZATION,
        "samples": len(samples),
        "overall": overall["summary"],
        "auc": {
            "overall": overall["auc"],
            "per_problem_mean": float(np.mean(list(problem_aucs.values())))
            if problem_aucs
            else None,
            "problems_with_both": len(problem_aucs),
            "per_problem": problem_aucs,
        },
        "problems": shown,
        "not_computable": not_computable,
        "skipped": skipped,
        "per_sample": samples,
    }


def _load_rows(results: str | os.PathLike[str] | Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    if isinstance(results, (str, os.PathLike)):
        from passk.records import read_jsonl

        rows = [(f"{results}:{n}", row) for n, row in read_jsonl(results)]
        if not rows:
            raise InputError(f"{results}: no results")
    else:
        rows = [(f"row {i}", row) for i, row in enumerate(results, start=1)]
        if not rows:
            raise InputError("no results")
    for where, row in rows:
        _check_row(where, row)
    return [row for _, row in rows]


def _check_row(where: str, row: dict[str, Any]) -> None:
    Result.from_row(row, where=where, hint="BLEU analysis needs a results file (passk evaluate)")
    text = row.get("completion", row.get("solution"))
    if not isinstance(text, str):
        raise InputError(f"{where}: no 'completion' or 'solution' string")


def _score(rows: list[dict[str, Any]], bench: Any) -> tuple[list[dict[str, Any]], list[str]]:
    samples: list[dict[str, Any]] = []
    unknown: dict[str, int] = {}
    seen: dict[str, int] = {}
    for row in rows:
        task = row["task_id"]
        problem = bench.problems.get(task)
        if problem is None:
            unknown[task] = unknown.get(task, 0) + 1
            continue
        if "completion" in row:
            hypothesis, reference = row["completion"], problem.canonical_solution
        else:  # a whole program: compare with the whole reference program
            hypothesis, reference = row["solution"], problem.prompt + problem.canonical_solution
        index = seen[task] = seen.get(task, -1) + 1
        samples.append(
            {
                "task_id": task,
                "completion_id": row.get("completion_id", index),
                "passed": row["passed"],
                "bleu": sentence_bleu(hypothesis, reference),
            }
        )
    skipped = [
        f"{n} sample(s) of {task!r} skipped: not a {bench.name} problem"
        for task, n in unknown.items()
    ]
    return samples, skipped


def _by_class(samples: list[dict[str, Any]]) -> dict[str, list[float]]:
    return {
        "correct": [s["bleu"] for s in samples if s["passed"]],
        "incorrect": [s["bleu"] for s in samples if not s["passed"]],
    }


def _auc_of(samples: list[dict[str, Any]]) -> float | None:
    classes = _by_class(samples)
    if not classes["correct"] or not classes["incorrect"]:
        return None
    return roc_auc([s["bleu"] for s in samples], [s["passed"] for s in samples])


def _overall(samples: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, str]]:
    classes = _by_class(samples)
    not_computable: dict[str, str] = {}
    for name, other in (("correct", "incorrect"), ("incorrect", "correct")):
        if not classes[name]:
            not_computable["auc"] = (
                f"no {name} samples (all {len(classes[other])} are {other}); AUC needs both classes"
            )
    summary = {name: summarize(classes[name]) for name in _CLASSES}
    return {"summary": summary, "auc": _auc_of(samples)}, not_computable


def _per_problem(
    samples: list[dict[str, Any]],
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, float]]:
    per_problem: dict[str, list[dict[str, Any]]] = {}
    for s in samples:
        per_problem.setdefault(s["task_id"], []).append(s)
    aucs = {task: _auc_of(group) for task, group in per_problem.items()}
    return per_problem, {task: auc for task, auc in aucs.items() if auc is not None}


def _shown_problems(
    per_problem: dict[str, list[dict[str, Any]]], limit: int
) -> list[dict[str, Any]]:
    """Problems with both classes, most samples first (ties in task order)."""
    both = [task for task, group in per_problem.items() if _auc_of(group) is not None]
    both.sort(key=lambda task: -len(per_problem[task]))
    shown = []
    for task in both[:limit]:
        group = per_problem[task]
        classes = _by_class(group)
        shown.append(
            {
                "task_id": task,
                "samples": len(group),
                "auc": _auc_of(group),
                **{name: summarize(classes[name]) for name in _CLASSES},
            }
        )
    return shown
