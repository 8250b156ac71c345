"""Benchmark registry: name -> loader. Loaders run on first use and their result is cached."""

from __future__ import annotations

import functools
from collections.abc import Callable

from passk.benchmarks.humaneval import load_humaneval
from passk.benchmarks.problem import Benchmark
from passk.errors import BenchmarkError

_LOADERS: dict[str, Callable[[], Benchmark]] = {
    "humaneval": load_humaneval,
}


def available_benchmarks() -> list[str]:
    return sorted(_LOADERS)


@functools.cache
def get_benchmark(name: str) -> Benchmark:
    """The benchmark called `name` (case-insensitive)."""
    loader = _LOADERS.get(name.lower())
    if loader is None:
        raise BenchmarkError(
            f"unknown benchmark {name!r}; available: {', '.join(available_benchmarks())}"
        )
    return loader()
