"""APPS (Hendrycks et al. 2021, "Measuring Coding Challenge Competence With APPS"), as the Codex
paper scores it in Table 2: `apps:PATH[:DIFFICULTY][:1shot]`.

10,000 programming problems from contest and interview sites (5,000 train, 5,000 test), each a
statement, test cases and human solutions, at three levels: introductory, interview and
competition. passk reads the two layouts the data comes in (it is not shipped: the README says
where to get it):
- the authors' archive: a folder (its `test/` or `train/`) with one sub-folder per problem,
  holding `question.txt`, `input_output.json` (`inputs`, `outputs`, and `fn_name` for
  call-based problems), `solutions.json` (a list of programs), `metadata.json` (`difficulty`)
  and, for some, `starter_code.py`;
- the Hugging Face dataset exported as JSONL: one problem a line with `problem_id`,
  `question`, `input_output` and `solutions` as JSON strings, `difficulty`, `starter_code`,
  `url`.

The spec: PATH, then optionally `:DIFFICULTY` (introductory, interview, competition or all, the
default) and `:1shot`, in either order — `apps:APPS/test`, `apps:test.jsonl:interview`,
`apps:APPS/test:competition:1shot`.

Each problem becomes a Problem whose completion is a whole program:
- prompt: APPS's own (its `eval/generate_gpt_codes.py`, and the Codex paper's): "\\nQUESTION:\\n"
  + statement + ("\\n" + starter code) + "\\nUse Standard Input format" or "\\nUse Call-Based
  format" + "\\nANSWER:\\n". The 1-shot variant adds, before the format line, the first test
  case as "\\nExample Input:\\n...\\nExample Output:\\n..." (the paper appends "a single
  input/output example" without giving its text; this is passk's rendering of it);
- the program: APPS's harness's import header (`IMPORTS`), then the completion;
- standard-input problems are judged on their test cases as stdio jobs (`passk.execution.stdio`,
  APPS's comparison); call-based problems (`fn_name`) by a `check(candidate)` that calls the
  function with each case's arguments and compares as APPS does (a tuple result as a list; an
  expected value wrapped in a one-element list also matches), like HumanEval's tests and in
  either verdict mode. A LeetCode-style `class Solution` starter is called through an instance;
- canonical solution: the first of `solutions.json` ("" for problems without solutions);
- examples: the first three test cases, the statement's public examples that filtered pass@k
  keeps samples by (Table 2);
- stop sequences: a new "QUESTION:" or "ANSWER:" block, or a statement's "-----" heading.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from passk.benchmarks.humaneval import PREIMPORTS as HUMANEVAL_PREIMPORTS
from passk.benchmarks.problem import Benchmark, Problem
from passk.errors import BenchmarkError, InputError
from passk.records import read_jsonl

PREFIX = "apps:"
DIFFICULTIES = ("introductory", "interview", "competition")
ONE_SHOT = "1shot"
EXAMPLES = 3  # leading test cases that are the statement's public examples
STOP_SEQUENCES = ("\nQUESTION:", "\nANSWER:", "\n-----")
FILES = ("question.txt", "input_output.json", "solutions.json", "metadata.json", "starter_code.py")
# The imports APPS's harness (eval/testing_util.py) puts before every program; numpy only where
# it is installed.
IMPORTS = """\
import sys
import time
import itertools
from itertools import accumulate, product, permutations, combinations
import collections
from collections import Counter, OrderedDict, deque, defaultdict, ChainMap
from functools import lru_cache
import math
from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2
import fractions
from typing import List, Tuple
try:
    import numpy as np
except ImportError:
    pass
import random
import heapq
from heapq import *
"""
ENTRY = "apps_solution_method"  # what a `class Solution` problem's test calls
_CLASS_ENTRY = "\n\ndef {entry}(*args):\n    return Solution().{name}(*args)\n"


@dataclass(frozen=True)
class Spec:
    """What `apps:` names: the data, the level kept ("all" for every level), the shots."""

    path: str
    difficulty: str = "all"
    shots: int = 0

    def __post_init__(self) -> None:
        if self.difficulty not in (*DIFFICULTIES, "all"):
            raise BenchmarkError(f"apps: unknown difficulty {self.difficulty!r}; {_CHOICES}")


_CHOICES = f"difficulties: {', '.join(DIFFICULTIES)}, all; option: {ONE_SHOT}"


def parse_spec(spec: str) -> Spec:
    """PATH[:DIFFICULTY][:1shot] (in either order after PATH).

    >>> parse_spec("APPS/test:1shot:interview")
    Spec(path='APPS/test', difficulty='interview', shots=1)
    """
    if not spec:
        raise BenchmarkError("apps: needs a path, e.g. apps:APPS/test or apps:test.jsonl:interview")
    path, difficulty, shots = spec, "all", 0
    while ":" in path:
        head, _, word = path.rpartition(":")
        if word == ONE_SHOT and not shots:
            shots = 1
        elif word in (*DIFFICULTIES, "all") and difficulty == "all":
            difficulty = word
        elif head and Path(head).exists() and not Path(path).exists():
            raise BenchmarkError(f"apps: {spec}: unknown difficulty or option {word!r}; {_CHOICES}")
        else:
            break
        path = head
    return Spec(path, difficulty, shots)


def load_apps(spec: str) -> Benchmark:
    """APPS from `apps:PATH[:DIFFICULTY][:1shot]` (module docstring)."""
    parsed = parse_spec(spec)
    source = Path(parsed.path)
    if source.is_dir():
        records, sha256 = _read_folder(source, parsed.difficulty)
    elif source.is_file():
        records, sha256 = _read_jsonl(source, parsed.difficulty)
    else:
        raise BenchmarkError(f"apps: {source}: no such file or folder")
    problems: dict[str, Problem] = {}
    for record in records:
        problem = to_problem(record, shots=parsed.shots)
        if problem.task_id in problems:
            raise BenchmarkError(f"{record.where}: duplicate problem {problem.task_id}")
        problems[problem.task_id] = problem
    if not problems:
        level = "" if parsed.difficulty == "all" else f" of difficulty {parsed.difficulty}"
        raise BenchmarkError(f"apps: {source}: no problem{level}")
    return Benchmark(
        name=PREFIX + spec,
        version=f"{parsed.difficulty}:{parsed.shots}shot",
        sha256=sha256,
        problems=problems,
        stop_sequences=STOP_SEQUENCES,
        preimports=preimports(),
    )


def preimports() -> tuple[str, ...]:
    """What workers import once for APPS programs: HumanEval's modules, the import header's."""
    extra = ("sys", "time", "fractions", "numpy")
    return HUMANEVAL_PREIMPORTS + tuple(
        name for name in extra if importlib.util.find_spec(name) is not None
    )


# ---------------------------------------------------------------- reading the two layouts


@dataclass(frozen=True)
class Record:
    """One problem as read, whichever the layout: `where` names it in errors."""

    where: str
    problem_id: str
    question: str
    tests: dict[str, Any]
    solutions: list[Any]
    difficulty: str
    starter_code: str


def _read_folder(root: Path, difficulty: str) -> tuple[list[Record], str]:
    """The problems of the authors' layout at that level, and the SHA-256 of the files read
    (every problem's, whatever its level, with their names and sizes)."""
    folders = sorted(p for p in root.iterdir() if p.is_dir() and (p / FILES[0]).is_file())
    if not folders:
        raise BenchmarkError(
            f"apps: {root}: no problem folders (sub-folders with {FILES[0]}); for the authors' "
            "archive give its test/ or train/ folder"
        )
    digest = hashlib.sha256()
    records = []
    for folder in folders:
        files = {name: (folder / name).read_bytes() for name in FILES if (folder / name).is_file()}
        for name, data in files.items():
            digest.update(f"{folder.name}/{name}\0{len(data)}\0".encode() + data)
        level = _folder_difficulty(folder, files)
        if difficulty in ("all", level):
            records.append(_folder_record(folder, files, level))
    return records, digest.hexdigest()


def _folder_difficulty(folder: Path, files: dict[str, bytes]) -> str:
    if "metadata.json" not in files:
        return ""
    metadata = _json(files["metadata.json"], f"apps: {folder / 'metadata.json'}")
    level = metadata.get("difficulty", "") if isinstance(metadata, dict) else None
    if not isinstance(level, str):
        raise BenchmarkError(f"apps: {folder / 'metadata.json'}: 'difficulty' must be a string")
    return level


def _folder_record(folder: Path, files: dict[str, bytes], level: str) -> Record:
    where = f"apps: {folder / 'input_output.json'}"
    if "input_output.json" not in files:
        raise BenchmarkError(f"{where}: no such file: the problem has no tests")
    solutions = []
    if "solutions.json" in files:
        solutions = _json(files["solutions.json"], f"apps: {folder / 'solutions.json'}")
    return Record(
        where=where,
        problem_id=str(int(folder.name)) if folder.name.isdigit() else folder.name,
        question=_text(files["question.txt"], f"apps: {folder / 'question.txt'}"),
        tests=_json(files["input_output.json"], where),
        solutions=solutions,
        difficulty=level,
        starter_code=_text(
            files.get("starter_code.py", b""), f"apps: {folder / 'starter_code.py'}"
        ),
    )


def _read_jsonl(file: Path, difficulty: str) -> tuple[list[Record], str]:
    """The problems of an exported JSONL file at that level, and the file's SHA-256."""
    records = []
    try:
        for line, row in read_jsonl(file):
            level = row.get("difficulty", "")
            if difficulty in ("all", level):
                records.append(_row_record(row, f"apps: {file}:{line}"))
    except InputError as e:
        raise BenchmarkError(f"apps: {e}") from None
    except UnicodeDecodeError as e:
        raise BenchmarkError(f"apps: {file}: not UTF-8 JSONL: {e}") from None
    return records, _file_sha256(file)


def _row_record(row: dict[str, Any], where: str) -> Record:
    problem_id = row.get("problem_id")
    if isinstance(problem_id, bool) or not isinstance(problem_id, int | str):
        raise BenchmarkError(f"{where}: 'problem_id' must be an integer or a string")
    where = f"{where} (problem {problem_id})"
    tests = row.get("input_output")
    if not tests:
        raise BenchmarkError(f"{where}: 'input_output' is empty: the problem has no tests")
    solutions = row.get("solutions") or []
    starter = row.get("starter_code") or ""
    for name, value in (("question", row.get("question")), ("starter_code", starter)):
        if not isinstance(value, str):
            raise BenchmarkError(f"{where}: {name!r} must be a string")
    return Record(
        where=where,
        problem_id=str(problem_id),
        question=str(row["question"]),
        tests=_json(tests, f"{where}: 'input_output'") if isinstance(tests, str) else tests,
        solutions=_json(solutions, f"{where}: 'solutions'")
        if isinstance(solutions, str)
        else solutions,
        difficulty=str(row.get("difficulty") or ""),
        starter_code=starter,
    )


def _json(data: str | bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        raise BenchmarkError(f"{where}: not JSON: {e}") from None


def _text(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError as e:
        raise BenchmarkError(f"{where}: not UTF-8: {e}") from None


def _file_sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------- one problem


def to_problem(record: Record, *, shots: int = 0) -> Problem:
    """One APPS problem as a Problem (module docstring), checked."""
    tests, where = record.tests, record.where
    if not isinstance(tests, dict):
        raise BenchmarkError(f"{where}: expected an object with 'inputs' and 'outputs'")
    inputs, outputs, fn_name = tests.get("inputs"), tests.get("outputs"), tests.get("fn_name")
    if not isinstance(inputs, list) or not isinstance(outputs, list) or len(inputs) != len(outputs):
        raise BenchmarkError(f"{where}: 'inputs' and 'outputs' must be lists of the same length")
    if not inputs:
        raise BenchmarkError(f"{where}: no test cases: the problem has no tests")
    base = Problem(
        task_id=f"APPS/{record.problem_id}",
        prompt="",
        entry_point="",
        canonical_solution=_canonical(record),
        test="",
        difficulty=record.difficulty,
        examples=min(EXAMPLES, len(inputs)),
    )
    if fn_name is None:
        return _stdio_problem(base, record, inputs, outputs, shots)
    return _call_based_problem(base, record, fn_name, inputs, outputs, shots)


def _canonical(record: Record) -> str:
    if not isinstance(record.solutions, list):
        raise BenchmarkError(f"{record.where}: the solutions must be a list of programs")
    canonical = record.solutions[0] if record.solutions else ""
    if not isinstance(canonical, str):
        raise BenchmarkError(f"{record.where}: the first solution is not a program (a string)")
    return canonical.replace("\r\n", "\n")


def _stdio_problem(
    base: Problem, record: Record, inputs: list[Any], outputs: list[Any], shots: int
) -> Problem:
    pairs = enumerate(zip(inputs, outputs, strict=True))
    cases = tuple(_stdio_case(i, o, n, record.where) for n, (i, o) in pairs)
    example = cases[0] if shots else None
    prompt = apps_prompt(record.question, record.starter_code, call_based=False, example=example)
    return replace(base, prompt=prompt, cases=cases, around=(IMPORTS, ""))


def _call_based_problem(
    base: Problem, record: Record, fn_name: Any, inputs: list[Any], outputs: list[Any], shots: int
) -> Problem:
    where = record.where
    if not isinstance(fn_name, str) or not fn_name.isidentifier():
        raise BenchmarkError(f"{where}: 'fn_name' must be a function name, got {fn_name!r}")
    if not all(isinstance(args, list) for args in inputs):
        raise BenchmarkError(f"{where}: a call-based problem's inputs must be lists of arguments")
    shown = (json.dumps(inputs[0]), json.dumps(outputs[0])) if shots else None
    prompt = apps_prompt(record.question, record.starter_code, call_based=True, example=shown)
    entry, after = fn_name, ""
    if "class Solution" in record.starter_code:
        entry, after = ENTRY, _CLASS_ENTRY.format(entry=ENTRY, name=fn_name)
    test = call_based_test(inputs, outputs)
    return replace(base, prompt=prompt, entry_point=entry, test=test, around=(IMPORTS, after))


def _stdio_case(given: Any, wanted: Any, index: int, where: str) -> tuple[str, str]:
    """A standard-input case; a list of lines is joined with newlines, as APPS's harness does."""
    pair = []
    for value in (given, wanted):
        if isinstance(value, list) and all(isinstance(line, str) for line in value):
            value = "\n".join(value)
        if not isinstance(value, str):
            raise BenchmarkError(f"{where}: test case {index + 1} is not text (a string or lines)")
        pair.append(value)
    return pair[0], pair[1]


def apps_prompt(
    question: str, starter_code: str, *, call_based: bool, example: tuple[str, str] | None = None
) -> str:
    """APPS's prompt (module docstring), with the 1-shot example where given.

    >>> apps_prompt("Add two numbers.", "", call_based=False)
    '\\nQUESTION:\\nAdd two numbers.\\nUse Standard Input format\\nANSWER:\\n'
    """
    text = "\nQUESTION:\n" + question
    if starter_code:
        text += "\n" + starter_code
    if example is not None:
        given, wanted = (part.rstrip("\n") for part in example)
        text += f"\nExample Input:\n{given}\nExample Output:\n{wanted}"
    text += "\nUse Call-Based format" if call_based else "\nUse Standard Input format"
    return text + "\nANSWER:\n"


_CALL_TEST = '''\
import json as _json

_CASES = _json.loads({cases!r})


def _int_keys(value):
    """JSON keeps only string keys; APPS turns a dict's keys back into integers."""
    try:
        return {{int(k): v for k, v in value.items()}}
    except (ValueError, TypeError):
        return value


def _prepared(args, expected):
    if args and isinstance(args[0], dict):
        args = [_int_keys(args[0])] + args[1:]
    if isinstance(expected, dict):
        expected = [_int_keys(expected)]
    elif isinstance(expected, list) and expected and isinstance(expected[0], dict):
        expected = [_int_keys(expected[0])]
    return args, expected


def _same(got, expected):
    """APPS's call-based comparison."""
    if isinstance(got, tuple):
        got = list(got)
    if got == expected:
        return True
    if isinstance(expected, list) and expected and got == expected[0]:
        return True
    try:
        return isinstance(got[0], tuple) and [list(x) for x in got] == expected[0]
    except Exception:
        return False


def _at_case(number, error):
    """The candidate's exception, its message prefixed with the case."""
    message = "case %d: %s" % (number, error)
    try:
        again = type(error)(message)
        if type(again) is type(error) and str(again) == message:
            return again
    except Exception:
        pass
    return RuntimeError("case %d: %s: %s" % (number, type(error).__name__, error))


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def check(candidate):
    for number, (args, expected) in enumerate(_CASES, start=1):
        args, expected = _prepared(args, expected)
        try:
            got = candidate(*args)
        except Exception as error:
            raise _at_case(number, error) from None
        if not _same(got, expected):
            raise AssertionError(
                "case %d: expected %s, got %s" % (number, _show(expected), _show(got))
            )
'''


def call_based_test(inputs: list[Any], outputs: list[Any]) -> str:
    """The `check(candidate)` of a call-based problem: its cases as JSON, APPS's comparison."""
    cases = json.dumps([[args, expected] for args, expected in zip(inputs, outputs, strict=True)])
    return _CALL_TEST.format(cases=cases)
