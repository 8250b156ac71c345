"""passk's public API: `passk.__all__` is exactly what the package offers, and each member is
what it claims to be (in the style of httpx's tests/test_exported_members.py).

`passk` loads its members lazily (PEP 562 `__getattr__`), so the httpx check "every public name
in the module is exported" is made here against the imports the package declares for type
checkers, and against what `from passk import *` and attribute access give.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.metadata
import inspect
import json
import math
import pkgutil
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import passk
from passk import errors

EXPORTED = [
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

# Names `passk/__init__.py` binds for its own code, not offered to users.
MODULE_HELPERS = {"annotations", "TYPE_CHECKING", "Any"}


def declared_imports() -> dict[str, str]:
    """name -> module for the `if TYPE_CHECKING:` imports of passk/__init__.py."""
    tree = ast.parse(inspect.getsource(passk))
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                assert isinstance(stmt, ast.ImportFrom) and stmt.module
                for alias in stmt.names:
                    found[alias.asname or alias.name] = stmt.module
    return found


def test_all_is_exactly_the_public_api() -> None:
    assert sorted(passk.__all__) == sorted(EXPORTED)
    assert len(set(passk.__all__)) == len(passk.__all__)


def test_all_exports_are_the_declared_imports() -> None:
    # httpx: `__all__ == sorted(public names of vars(httpx))`; here the imports are lazy.
    assert sorted(declared_imports()) == sorted(set(passk.__all__) - {"__version__"})


def test_every_member_resolves_to_its_home_object() -> None:
    for name, module in declared_imports().items():
        home = importlib.import_module(module)
        assert getattr(passk, name) is getattr(home, name), name
    namespace: dict[str, object] = {}
    for name in passk.__all__:
        exec(f"from passk import {name}", namespace)
        assert namespace[name] is getattr(passk, name)


def test_star_import_gives_exactly_all() -> None:
    namespace: dict[str, object] = {}
    exec("from passk import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(passk.__all__)


def test_nothing_else_public_is_advertised() -> None:
    for name in passk.__all__:
        getattr(passk, name)  # loads every home module
    submodules = {m.name for m in pkgutil.iter_modules(passk.__path__)}
    public = {name for name in vars(passk) if not name.startswith("_")}
    assert public - submodules - MODULE_HELPERS <= set(passk.__all__)
    # Names that live in the home modules are not reachable through the lazy loader.
    for name in (
        "PassAtK",
        "mean_pass_at_k",
        "summarize_pass_at_k",
        "Benchmark",
        "Limits",
        "WorkerPool",
        "read_samples",
        "InputError",
        "DEFAULT_KS",
        "main",
    ):
        with pytest.raises(AttributeError, match=f"module 'passk' has no attribute '{name}'"):
            getattr(passk, name)


def test_version() -> None:
    assert passk.__version__ == importlib.metadata.version("passk")
    assert passk.__version__ == "0.1.0"


def exact(n: int, c: int, k: int) -> float:
    return float(1 - Fraction(math.comb(n - c, k), math.comb(n, k)))


def test_pass_at_k() -> None:
    assert callable(passk.pass_at_k)
    assert exact(200, 10, 1) == 0.05
    assert passk.pass_at_k(200, 10, 1) == pytest.approx(exact(200, 10, 1), abs=1e-15)
    for n, c, k in [(10, 3, 2), (200, 10, 10), (200, 10, 100), (5, 5, 1), (5, 0, 3), (100, 1, 100)]:
        assert passk.pass_at_k(n, c, k) == pytest.approx(exact(n, c, k), abs=1e-12)
    assert isinstance(passk.pass_at_k(10, 3, 2), float)
    with pytest.raises(ValueError):
        passk.pass_at_k(5, 1, 6)


def test_estimate_pass_at_k() -> None:
    values = passk.estimate_pass_at_k([10, 20, 5], [3, 0, 5], 2)
    assert isinstance(values, np.ndarray)
    assert values.tolist() == pytest.approx([exact(10, 3, 2), 0.0, 1.0], abs=1e-12)
    assert passk.estimate_pass_at_k(10, [0, 5, 10], 1).tolist() == pytest.approx([0.0, 0.5, 1.0])


def test_get_benchmark() -> None:
    from passk.benchmarks import Benchmark

    bench = passk.get_benchmark("humaneval")
    assert isinstance(bench, Benchmark)
    assert len(bench.problems) == 164


def test_passk_error_is_the_base_of_passk_errors() -> None:
    assert issubclass(passk.PasskError, Exception)
    assert passk.PasskError is errors.PasskError
    for cls in (
        errors.InputError,
        errors.BenchmarkError,
        errors.OutputError,
        errors.ExecutionError,
        errors.Interrupted,
    ):
        assert issubclass(cls, passk.PasskError)
    with pytest.raises(passk.PasskError):
        passk.get_benchmark("no-such-benchmark")


def test_evaluation_and_evaluate(tmp_path: Path) -> None:
    assert dataclasses.is_dataclass(passk.Evaluation)
    assert [f.name for f in dataclasses.fields(passk.Evaluation)] == [
        "results_path",
        "summary_path",
        "summary",
    ]
    params = inspect.signature(passk.evaluate).parameters
    assert next(iter(params)) == "samples"
    assert {"benchmark", "k", "execution", "out", "resume", "on_progress"} <= set(params)
    assert all(
        p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in params.items() if name != "samples"
    )

    problem = passk.get_benchmark("humaneval").problem("HumanEval/2")
    samples = tmp_path / "samples.jsonl"
    samples.write_text(
        json.dumps({"task_id": problem.task_id, "completion": problem.canonical_solution}) + "\n"
    )
    progress: list[tuple[int, int]] = []
    result = passk.evaluate(
        samples,
        k=[1],
        execution=passk.ExecutionOptions(workers=1),
        on_progress=lambda d, t: progress.append((d, t)),
    )
    assert isinstance(result, passk.Evaluation)
    assert result.results_path == tmp_path / "samples.jsonl_results.jsonl"
    assert result.summary_path == tmp_path / "samples.jsonl_results.summary.json"
    assert result.summary["pass_at_k"] == {"pass@1": 1.0}
    assert json.loads(result.summary_path.read_text()) == result.summary
    assert progress[-1] == (1, 1)
    with pytest.raises(passk.PasskError):
        passk.evaluate(tmp_path / "nope.jsonl", k=[1])
