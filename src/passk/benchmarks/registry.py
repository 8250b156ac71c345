"""Benchmark registry: name -> loader. Loaders run on first use and their result is cached.

A name with a registered prefix carries its loader's argument: `doctests:PATH` mines PATH.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from passk.benchmarks import doctests, mbpp, problem_file
from passk.benchmarks.humaneval import load_humaneval
from passk.benchmarks.problem import Benchmark
from passk.errors import BenchmarkError

_LOADERS: dict[str, Callable[[], Benchmark]] = {
    "humaneval": load_humaneval,
}

# Prefix -> loader of the text after it (kept as given: a path is case-sensitive).
_PREFIXED_LOADERS: dict[str, Callable[[str], Benchmark]] = {
    doctests.PREFIX: doctests.load_doctests,
    problem_file.PREFIX: problem_file.load_problem_file,
    mbpp.PREFIX: mbpp.load_mbpp,
}


def available_benchmarks() -> list[str]:
    """The benchmark names, and the prefixed forms with what follows them."""
    forms = {
        doctests.PREFIX: "PATH",
        problem_file.PREFIX: "PATH",
        mbpp.PREFIX: "PATH[:SPLIT]",
    }
    return sorted(_LOADERS) + [prefix + forms[prefix] for prefix in _PREFIXED_LOADERS]


@functools.cache
def get_benchmark(name: str) -> Benchmark:
    """The benchmark called `name` (case-insensitive), or a prefixed one: `doctests:PATH`
    mined from PATH, `humaneval-jsonl:PATH` read from a problems file, `mbpp:PATH[:SPLIT]`."""
    for prefix, load in _PREFIXED_LOADERS.items():
        if name[: len(prefix)].lower() == prefix:
            return load(name[len(prefix) :])
    loader = _LOADERS.get(name.lower())
    if loader is None:
        raise BenchmarkError(
            f"unknown benchmark {name!r}; available: {', '.join(available_benchmarks())}"
        )
    return loader()
