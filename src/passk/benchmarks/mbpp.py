"""MBPP (Austin et al. 2021, "Program Synthesis with Large Language Models"): `mbpp:PATH[:SPLIT]`.

974 short Python tasks, each a one-sentence description, a reference solution and three
`assert` tests. passk reads the files as the authors distribute them — `mbpp.jsonl` (`task_id`,
`text`, `code`, `test_list`, `test_setup_code`, `challenge_test_list`) and the hand-checked
`sanitized-mbpp.json` (a JSON list; `prompt` instead of `text`, `test_imports`) — and the same
sets exported from the Hugging Face dataset as JSONL. The data is not shipped: get the files
from the google-research repository's `mbpp/` folder (or export the `mbpp` dataset's `full`
or `sanitized` configuration with `datasets`' `to_json`).

SPLIT selects tasks by id as the MBPP paper does: `test` (11-510, the default), `validation`
(511-600), `train` (601-974), `prompt` (1-10, the few-shot examples), or `all`. A file that
holds only some tasks (a sanitized file, a split export) gives those of the split it has.

Each task becomes a Problem whose completion is the whole program:
- prompt: the description and the first test in a docstring, the zero-shot form of
  bigcode-evaluation-harness's `mbpp` task (the MBPP paper shows the tests with the
  description): `\"\"\"\\n<description>\\n<first test>\\n\"\"\"\\n`;
- entry_point: the function the tests call (of those the reference solution defines);
- test: the task's setup code or test imports, then `check(candidate)` holding the asserts of
  `test_list` (the challenge tests are not used, as in the paper's evaluation); the asserts
  call the function by name, which in io mode is the judge's proxy for the solution. A task's
  `test_setup_code` (a constant the solution uses) ends the prompt as well, so that the solution
  has it in io mode, where it runs apart from the test.
Stop sequences are bigcode-evaluation-harness's for MBPP (a top-level `class`, `assert`,
`print`, `if`, docstring or code fence ends a completion; a `def` does not: helpers are
allowed).
"""

from __future__ import annotations

import ast
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

from passk.benchmarks.humaneval import PREIMPORTS
from passk.benchmarks.problem import Benchmark, Problem
from passk.errors import BenchmarkError, InputError
from passk.records import read_jsonl

PREFIX = "mbpp:"
SPLITS = {
    "test": range(11, 511),
    "validation": range(511, 601),
    "train": range(601, 975),
    "prompt": range(1, 11),
}
STOP_SEQUENCES = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n```")


def load_mbpp(spec: str) -> Benchmark:
    """MBPP from PATH[:SPLIT] (default split: test)."""
    path, split = _split_spec(spec)
    file = Path(path)
    if not file.is_file():
        what = "is a directory" if file.is_dir() else "no such file"
        raise BenchmarkError(f"mbpp: {path}: {what}")
    rows = _read_rows(file)
    problems = {}
    for where, row in rows:
        task = row.get("task_id")
        if isinstance(task, bool) or not isinstance(task, int):
            raise BenchmarkError(f"{where}: 'task_id' must be an integer, got {task!r}")
        if split == "all" or task in SPLITS[split]:
            problem = to_problem(row, where=where)
            if problem.task_id in problems:
                raise BenchmarkError(f"{where}: duplicate task_id {task}")
            problems[problem.task_id] = problem
    if not problems:
        raise BenchmarkError(f"mbpp: {path}: no task of the {split} split in the file")
    return Benchmark(
        name=PREFIX + spec,
        version=f"{'sanitized' if _sanitized(rows) else 'full'}:{split}",
        sha256=hashlib.sha256(file.read_bytes()).hexdigest(),
        problems=problems,
        stop_sequences=STOP_SEQUENCES,
        preimports=PREIMPORTS,
    )


def _split_spec(spec: str) -> tuple[str, str]:
    if not spec:
        raise BenchmarkError("mbpp: needs a path, e.g. mbpp:mbpp.jsonl or mbpp:mbpp.jsonl:test")
    path, _, split = spec.rpartition(":")
    if path and split in (*SPLITS, "all"):
        return path, split
    return spec, "test"


def _read_rows(file: Path) -> list[tuple[str, dict[str, Any]]]:
    """(where, row) of a JSONL file or of a JSON list (sanitized-mbpp.json)."""
    try:
        head = file.read_bytes().lstrip()[:1]
        if head == b"[":
            data = json.loads(file.read_text(encoding="utf-8"))
            if not all(isinstance(r, dict) for r in data):
                raise BenchmarkError(f"mbpp: {file}: expected a list of task objects")
            return [(f"{file}: task #{i}", r) for i, r in enumerate(data, start=1)]
        return [(f"{file}:{n}", row) for n, row in read_jsonl(file)]
    except InputError as e:
        raise BenchmarkError(f"mbpp: {e}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BenchmarkError(f"mbpp: {file}: not MBPP's JSON or JSONL: {e}") from None


def _sanitized(rows: list[tuple[str, dict[str, Any]]]) -> bool:
    return bool(rows) and "prompt" in rows[0][1] and "text" not in rows[0][1]


def to_problem(row: dict[str, Any], *, where: str) -> Problem:
    """One MBPP task as a Problem (see the module docstring), checked."""
    text = row.get("text", row.get("prompt"))
    code, tests = row.get("code"), row.get("test_list")
    if not isinstance(text, str) or not text.strip():
        raise BenchmarkError(f"{where}: no description ('text' or 'prompt')")
    if not isinstance(code, str):
        raise BenchmarkError(f"{where}: no reference solution ('code')")
    if not isinstance(tests, list) or not tests or not all(isinstance(t, str) for t in tests):
        raise BenchmarkError(f"{where}: 'test_list' must be a non-empty list of asserts")
    setup = _setup(row, where)
    code = code.replace("\r\n", "\n")
    entry_point = _entry_point(code, tests, where)
    description = " ".join(text.split())
    prompt = f'"""\n{description}\n{tests[0].strip()}\n"""\n'
    if row.get("test_setup_code"):  # what the solution may use (io mode runs it apart)
        prompt += setup + "\n"
    asserts = "".join(f"    {t.strip()}\n" for t in tests)
    test = (setup + "\n\n" if setup else "") + f"def check(candidate):\n{asserts}"
    _parses(test, "the tests", where)
    return Problem(f"Mbpp/{row['task_id']}", prompt, entry_point, code + "\n", test)


def _setup(row: dict[str, Any], where: str) -> str:
    setup = row.get("test_setup_code") or ""
    imports = row.get("test_imports") or []
    if not isinstance(setup, str) or not isinstance(imports, list):
        raise BenchmarkError(f"{where}: 'test_setup_code' or 'test_imports' is malformed")
    return "\n".join([*map(str, imports), setup.replace("\r\n", "\n")]).strip()


def _entry_point(code: str, tests: list[str], where: str) -> str:
    """The function of the reference solution that the tests call."""
    defined = [n.name for n in _parses(code, "the reference solution", where).body
               if isinstance(n, ast.FunctionDef)]  # fmt: skip
    called = {
        node.func.id
        for test in tests
        for node in ast.walk(_parses(test, "a test", where))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    for name in defined:
        if name in called:
            return name
    raise BenchmarkError(f"{where}: the tests call none of the solution's functions {defined}")


def _parses(source: str, what: str, where: str) -> ast.Module:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except (SyntaxError, ValueError) as e:
        raise BenchmarkError(f"{where}: {what} does not parse as Python: {e}") from None
