"""Removing HumanEval from the training corpus.

Chen et al. (2021, section 2.2) wrote HumanEval by hand because GitHub already holds solutions
to most public problems; a corpus that still contains HumanEval's own text would inflate pass@k.
We follow GPT-3's decontamination (Brown et al. 2020, appendix C): a file that shares any
13-word n-gram with a problem's prompt, canonical solution or tests is dropped. A file that
defines a function named like a problem's entry point is held to a stricter 8-word overlap with
that problem; a name alone (every `def add`) never drops a file.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

NGRAM = 13
ENTRY_POINT_NGRAM = 8

_WORD = re.compile(r"\w+")
_DEF = re.compile(r"\bdef\s+(\w+)\s*\(")


def words(text: str) -> list[str]:
    """Lower-cased word tokens; whitespace and punctuation only separate them.

    >>> words("def add(x: int,  y)->int:")
    ['def', 'add', 'x', 'int', 'y', 'int']
    """
    return _WORD.findall(text.lower())


def ngrams(tokens: list[str], n: int) -> Iterable[tuple[str, ...]]:
    for i in range(len(tokens) - n + 1):
        gram = tuple(tokens[i : i + n])
        if not all(t.isdigit() for t in gram):  # runs of numbers (1 2 3 ...) are everywhere
            yield gram


class ContaminationIndex:
    """The n-grams of a benchmark's problems, to test corpus files against."""

    def __init__(self, problems: Iterable[tuple[str, str, str]]) -> None:
        """problems: (task_id, entry_point, text: prompt + solution + test) for each problem."""
        self.long: dict[tuple[str, ...], str] = {}
        self.short: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        self.entry_points: dict[str, str] = {}
        for task_id, entry_point, text in problems:
            tokens = words(text)
            for gram in ngrams(tokens, NGRAM):
                self.long.setdefault(gram, task_id)
            self.short[task_id].update(ngrams(tokens, ENTRY_POINT_NGRAM))
            self.entry_points.setdefault(entry_point, task_id)

    def reason(self, text: str) -> str | None:
        """Why this file counts as contaminated (naming the problem), or None if it is clean."""
        tokens = words(text)
        for gram in ngrams(tokens, NGRAM):
            if gram in self.long:
                return f"{NGRAM}-gram overlap with {self.long[gram]}"
        for name in set(_DEF.findall(text)) & self.entry_points.keys():
            task_id = self.entry_points[name]
            grams = self.short[task_id]
            if any(gram in grams for gram in ngrams(tokens, ENTRY_POINT_NGRAM)):
                return f"defines {name} with {ENTRY_POINT_NGRAM}-gram overlap with {task_id}"
        return None


def humaneval_index() -> tuple[ContaminationIndex, dict[str, str]]:
    """The index of HumanEval's 164 problems (prompt, canonical solution and test), and a
    description of the data it came from (name, version, sha256) for the manifest."""
    from passk.benchmarks import get_benchmark

    benchmark = get_benchmark("humaneval")
    index = ContaminationIndex(
        (p.task_id, p.entry_point, f"{p.prompt}{p.canonical_solution}\n{p.test}")
        for p in benchmark.problems.values()
    )
    return index, {
        "benchmark": benchmark.name,
        "version": benchmark.version,
        "sha256": benchmark.sha256,
    }
