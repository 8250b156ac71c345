"""Benchmark registry: name -> loader. Loaders run on first use and their result is cached.

A name with a registered prefix carries its loader's argument: `doctests:PATH` mines PATH,
`humaneval-jsonl:PATH` and `mbpp:PATH[:SPLIT]` read a file, `apps:PATH[:DIFFICULTY][:1shot]`
a folder or a file, `chained:LENGTHS[:N[:SEED]]` generates the chained-components study.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from passk.benchmarks import apps, chained, crypto, doctests, mbpp, misaligned, problem_file
from passk.benchmarks.humaneval import load_humaneval
from passk.benchmarks.humaneval_plus import load_humaneval_plus
from passk.benchmarks.problem import Benchmark
from passk.errors import BenchmarkError

_LOADERS: dict[str, Callable[[], Benchmark]] = {
    "humaneval": load_humaneval,
    "humaneval-plus": load_humaneval_plus,
    chained.NAME: chained.load_chained,
    crypto.NAME: crypto.load_crypto,
    **{
        f"{misaligned.NAME}:{variant}": functools.partial(misaligned.load_misaligned, variant)
        for variant in misaligned.VARIANTS
    },
}

# Prefix -> (loader of the text after it, kept as given: a path is case-sensitive; what the
# text is, for the list of benchmarks).
_PREFIXED_LOADERS: dict[str, tuple[Callable[[str], Benchmark], str]] = {
    doctests.PREFIX: (doctests.load_doctests, "PATH"),
    problem_file.PREFIX: (problem_file.load_problem_file, "PATH"),
    mbpp.PREFIX: (mbpp.load_mbpp, "PATH[:SPLIT]"),
    apps.PREFIX: (apps.load_apps, "PATH[:DIFFICULTY][:1shot]"),
    chained.PREFIX: (chained.load_chained, "LENGTHS[:N[:SEED]]"),
}


def available_benchmarks() -> list[str]:
    """The benchmark names, then the prefixed forms with what follows them."""
    return sorted(_LOADERS) + [prefix + form for prefix, (_, form) in _PREFIXED_LOADERS.items()]


@functools.cache
def get_benchmark(name: str) -> Benchmark:
    """The benchmark called `name` (case-insensitive), or a prefixed one: `doctests:PATH`
    mined from PATH, `humaneval-jsonl:PATH` read from a problems file, `mbpp:PATH[:SPLIT]`,
    `apps:PATH[:DIFFICULTY][:1shot]`, `chained:LENGTHS[:N[:SEED]]`."""
    for prefix, (load, _) in _PREFIXED_LOADERS.items():
        if name[: len(prefix)].lower() == prefix:
            return load(name[len(prefix) :])
    loader = _LOADERS.get(name.lower())
    if loader is None:
        raise BenchmarkError(
            f"unknown benchmark {name!r}; available: {', '.join(available_benchmarks())}"
        )
    return loader()
