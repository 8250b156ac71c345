"""Back-translation: rank a problem's samples by log P(docstring | sample's code) (Chen et al.
2021, sections 3.3 and 6, Figure 7).

The paper scores each sample with Codex-D, a model fine-tuned to write a docstring from code,
and picks the sample whose code makes the problem's docstring most likely. passk asks a causal
LM (by default the run's own model; a docstring model made by `passk finetune --task
docstring` with `--docstring-model`) the same question, in the template of
`passk.benchmarks.docstrings` that such a model is trained on: the sample's code without the
docstring, a comment that asks for the docstring of the entry point, and the docstring with
its closing quotes as the continuation.

The score is the sum of the log-probabilities of the continuation's tokens (the docstring and
its closing quotes). The continuation is the same for every sample of a problem, so its sum
and its mean rank a problem's samples alike. The docstring is cut out of the code (the prompt's
function keeps only its signature and whatever follows the docstring), so it cannot be copied
from there. A whole-program `solution` is stripped the same way when it parses and has the
function's docstring, and used as it is otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from passk.benchmarks import Problem
from passk.benchmarks.docstrings import (
    code_without_docstring,
    docstring_question,
    find_docstring,
    without_docstring,
)
from passk.errors import InputError

FIELD = "back_translation_logp"
"""The results-row field that `add_back_translation` fills in."""

ScoreText = Callable[[Sequence[str], Sequence[str]], list[float]]
"""(prompts, continuations) -> each continuation's summed log-probability given its prompt,
as `LocalBackend.score` computes them."""


def sample_code(problem: Problem, row: Mapping[str, Any]) -> str:
    """The sample's program without the docstring of the problem's function.

    >>> p = Problem("t/0", 'def f():\\n    \"\"\"One.\"\"\"\\n', "f", "", "")
    >>> sample_code(p, {"completion": "    return 1\\n"})
    'def f():\\n    return 1\\n'
    """
    if isinstance(row.get("completion"), str):
        return code_without_docstring(problem, row["completion"])
    solution = row.get("solution")
    if not isinstance(solution, str):
        raise InputError(f"{row.get('task_id')}: a results row without 'completion' or 'solution'")
    found = find_docstring(solution, problem.entry_point)
    return solution if found is None else without_docstring(solution, found)


def back_translation_pair(problem: Problem, row: Mapping[str, Any]) -> tuple[str, str]:
    """(prompt, continuation) whose score is the sample's back-translation log-probability."""
    return docstring_question(problem, sample_code(problem, row))


def add_back_translation(
    rows: Iterable[dict[str, Any]], problems: Mapping[str, Problem], score_text: ScoreText
) -> int:
    """Set every row's `back_translation_logp`; return how many distinct texts were scored.

    Samples with the same code share one score, so identical samples cost one forward pass.
    """
    rows = list(rows)
    pairs = [back_translation_pair(_problem(problems, row), row) for row in rows]
    distinct = list(dict.fromkeys(pairs))
    scores = score_text([p for p, _ in distinct], [c for _, c in distinct])
    by_pair = dict(zip(distinct, scores, strict=True))
    for row, pair in zip(rows, pairs, strict=True):
        row[FIELD] = by_pair[pair]
    return len(distinct)


def _problem(problems: Mapping[str, Problem], row: Mapping[str, Any]) -> Problem:
    task_id = row["task_id"]
    if task_id not in problems:
        raise InputError(f"{task_id}: not a problem of the benchmark the results are ranked on")
    return problems[task_id]
