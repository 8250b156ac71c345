"""Benchmark registry: name -> loader. Loaders run on first use and their result is cached.

A name with a registered prefix carries its loader's argument: `doctests:PATH` mines PATH.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from passk.benchmarks import chained, crypto, misaligned
from passk.benchmarks.doctests import PREFIX as DOCTESTS_PREFIX
from passk.benchmarks.doctests import load_doctests
from passk.benchmarks.humaneval import load_humaneval
from passk.benchmarks.problem import Benchmark
from passk.errors import BenchmarkError

_LOADERS: dict[str, Callable[[], Benchmark]] = {
    "humaneval": load_humaneval,
    chained.NAME: chained.load_chained,
    crypto.NAME: crypto.load_crypto,
    **{
        f"{misaligned.NAME}:{variant}": functools.partial(misaligned.load_misaligned, variant)
        for variant in misaligned.VARIANTS
    },
}

# Prefix -> loader of the text after it (kept as given: a path is case-sensitive).
_PREFIXED_LOADERS: dict[str, Callable[[str], Benchmark]] = {
    DOCTESTS_PREFIX: load_doctests,
    chained.PREFIX: chained.load_chained,
}


def available_benchmarks() -> list[str]:
    return sorted(_LOADERS)


@functools.cache
def get_benchmark(name: str) -> Benchmark:
    """The benchmark called `name` (case-insensitive), or `doctests:PATH` mined from PATH, or
    `chained:LENGTHS[:N[:SEED]]`."""
    for prefix, load in _PREFIXED_LOADERS.items():
        if name[: len(prefix)].lower() == prefix:
            return load(name[len(prefix) :])
    loader = _LOADERS.get(name.lower())
    if loader is None:
        raise BenchmarkError(
            f"unknown benchmark {name!r}; available: {', '.join(available_benchmarks())}"
        )
    return loader()
