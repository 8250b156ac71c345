"""Tests for the APPS benchmark (`apps:PATH[:DIFFICULTY][:1shot]`), its judging and its metrics.

Fixture problem sets are written by the tests in both layouts APPS comes in: the authors'
folders (question.txt, input_output.json, solutions.json, metadata.json, starter_code.py) and
the Hugging Face dataset exported as JSONL (input_output and solutions as JSON strings). Samples
run in real worker pools.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from passk.benchmarks import get_benchmark
from passk.benchmarks.apps import IMPORTS, STOP_SEQUENCES, parse_spec
from passk.errors import BenchmarkError
from passk.evaluation import evaluate
from passk.execution.options import ExecutionOptions
from passk.execution.sandbox import SandboxUnavailable, choose_sandbox

ADD = {
    "question": "Read two integers and print their sum.",
    "input_output": {
        "inputs": ["1 2\n", "3 4\n", "5 6\n", "10 20\n", "-1 1\n"],
        "outputs": ["3\n", "7\n", "11\n", "30\n", "0\n"],
    },
    "solutions": [
        "a, b = map(int, input().split())\nprint(a + b)\n",
        "print(sum(map(int, input().split())))\n",
    ],
    "difficulty": "introductory",
}
LINES = {  # inputs and outputs given as lists of lines, as some APPS problems have them
    "question": "Print every word of the line on a line of its own.",
    "input_output": {
        "inputs": [["a b", ""], ["x y z", ""]],
        "outputs": [["a", "b"], ["x", "y", "z"]],
    },
    "solutions": ["for w in input().split():\n    print(w)\n"],
    "difficulty": "interview",
}
TOTAL = {  # call-based, outputs wrapped in a list as APPS's codewars problems have them
    "question": "Return the sum of a list.",
    "input_output": {
        "fn_name": "total",
        "inputs": [[[1, 2]], [[3]], [[]], [[5, 5]]],
        "outputs": [[3], [3], [0], [10]],
    },
    "solutions": ["def total(xs):\n    return sum(xs)\n"],
    "difficulty": "interview",
    "starter_code": "def total(xs):\n",
}
PAIRS = {  # call-based returning tuples where APPS's outputs hold lists
    "question": "Return the pairs (x, x * x).",
    "input_output": {
        "fn_name": "pairs",
        "inputs": [[2], [1]],
        "outputs": [[[[0, 0], [1, 1]]], [[[0, 0]]]],
    },
    "solutions": ["def pairs(n):\n    return [(x, x * x) for x in range(n)]\n"],
    "difficulty": "competition",
}
PROFIT = {  # LeetCode style: a class Solution starter
    "question": "Best time to buy and sell a stock once.",
    "input_output": {
        "fn_name": "maxProfit",
        "inputs": [[[7, 1, 5, 3, 6, 4]], [[7, 6, 4, 3, 1]]],
        "outputs": [5, 0],
    },
    "solutions": [
        "class Solution:\n    def maxProfit(self, prices: List[int]) -> int:\n"
        "        low, best = prices[0], 0\n        for p in prices:\n"
        "            low = min(low, p)\n            best = max(best, p - low)\n        return best\n"
    ],
    "difficulty": "interview",
    "starter_code": "class Solution:\n    def maxProfit(self, prices: List[int]) -> int:\n        ",
}
UNSOLVED = {
    "question": "Echo the line.",
    "input_output": {"inputs": ["hi\n"], "outputs": ["hi\n"]},
    "solutions": [],
    "difficulty": "competition",
}
PROBLEMS = {0: ADD, 1: LINES, 2: TOTAL, 3: PAIRS, 4: PROFIT, 5: UNSOLVED}


def write_folders(root: Path, problems: dict[int, dict[str, Any]] = PROBLEMS) -> Path:
    """The authors' layout: one folder per problem, named by its number."""
    for number, problem in problems.items():
        folder = root / f"{number:04d}"
        folder.mkdir(parents=True)
        (folder / "question.txt").write_text(problem["question"])
        (folder / "input_output.json").write_text(json.dumps(problem["input_output"]))
        if problem["solutions"]:
            (folder / "solutions.json").write_text(json.dumps(problem["solutions"]))
        (folder / "metadata.json").write_text(
            json.dumps({"difficulty": problem["difficulty"], "url": "u"})
        )
        if problem.get("starter_code"):
            (folder / "starter_code.py").write_text(problem["starter_code"])
    return root


def hf_row(number: int, problem: dict[str, Any]) -> dict[str, Any]:
    return {
        "problem_id": number,
        "question": problem["question"],
        "solutions": json.dumps(problem["solutions"]) if problem["solutions"] else "",
        "input_output": json.dumps(problem["input_output"]),
        "difficulty": problem["difficulty"],
        "url": f"https://example.org/{number}",
        "starter_code": problem.get("starter_code", ""),
    }


def write_jsonl(path: Path, problems: dict[int, dict[str, Any]] = PROBLEMS) -> Path:
    """The Hugging Face dataset exported as JSONL."""
    path.write_text("".join(json.dumps(hf_row(n, p)) + "\n" for n, p in problems.items()))
    return path


@pytest.fixture(params=["folders", "jsonl"])
def apps_data(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    if request.param == "folders":
        return write_folders(tmp_path / "APPS" / "test")
    return write_jsonl(tmp_path / "test.jsonl")


def write_samples(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def canonical_rows(spec: str, copies: int = 1) -> list[dict[str, Any]]:
    bench = get_benchmark(spec)
    return [
        {"task_id": p.task_id, "completion_id": i, "completion": p.canonical_solution}
        for p in bench.problems.values()
        if p.canonical_solution
        for i in range(copies)
    ]


def results(samples: Path, spec: str, **options: Any) -> list[dict[str, Any]]:
    out = samples.with_name(samples.stem + "-" + "-".join(map(str, options.values())) + ".jsonl")
    evaluate(
        samples, benchmark=spec, k=[1], execution=ExecutionOptions(workers=2, **options), out=out
    )
    return [json.loads(line) for line in out.read_text().splitlines()]


# ---------------------------------------------------------------- loading


def test_both_layouts_give_the_same_problems(tmp_path: Path) -> None:
    folders = get_benchmark(f"apps:{write_folders(tmp_path / 'test')}")
    rows = get_benchmark(f"apps:{write_jsonl(tmp_path / 'test.jsonl')}")
    assert list(folders.problems) == [f"APPS/{n}" for n in range(6)]
    assert folders.problems == rows.problems
    assert folders.sha256 != rows.sha256  # each is its own source's
    assert folders.stop_sequences == STOP_SEQUENCES == ("\nQUESTION:", "\nANSWER:", "\n-----")


def test_a_standard_input_problem(apps_data: Path) -> None:
    p = get_benchmark(f"apps:{apps_data}").problem("APPS/0")
    assert p.prompt == (
        "\nQUESTION:\nRead two integers and print their sum.\nUse Standard Input format\nANSWER:\n"
    )
    assert p.cases[0] == ("1 2\n", "3\n") and len(p.cases) == 5
    assert (p.test, p.entry_point, p.examples, p.difficulty) == ("", "", 3, "introductory")
    assert p.canonical_solution == ADD["solutions"][0]
    assert p.solution("print(3)\n") == IMPORTS + "print(3)\n"
    lines = get_benchmark(f"apps:{apps_data}").problem("APPS/1")
    assert lines.cases == (("a b\n", "a\nb"), ("x y z\n", "x\ny\nz"))


def test_a_call_based_problem(apps_data: Path) -> None:
    bench = get_benchmark(f"apps:{apps_data}")
    p = bench.problem("APPS/2")
    assert p.prompt == (
        "\nQUESTION:\nReturn the sum of a list.\ndef total(xs):\n\nUse Call-Based format\nANSWER:\n"
    )
    assert (p.entry_point, p.cases, p.examples) == ("total", (), 3)
    assert "def check(candidate):" in p.test
    leetcode = bench.problem("APPS/4")
    assert leetcode.entry_point == "apps_solution_method"
    assert leetcode.solution("X").endswith("return Solution().maxProfit(*args)\n")
    assert bench.problem("APPS/5").canonical_solution == ""


def test_the_one_shot_prompt_shows_the_first_case(apps_data: Path) -> None:
    bench = get_benchmark(f"apps:{apps_data}:1shot")
    assert bench.problem("APPS/0").prompt == (
        "\nQUESTION:\nRead two integers and print their sum.\nExample Input:\n1 2\n"
        "Example Output:\n3\nUse Standard Input format\nANSWER:\n"
    )
    assert "\nExample Input:\n[[1, 2]]\nExample Output:\n[3]\nUse Call-Based" in (
        bench.problem("APPS/2").prompt
    )
    assert bench.version == "all:1shot"


def test_a_difficulty_keeps_its_problems(apps_data: Path) -> None:
    interview = get_benchmark(f"apps:{apps_data}:interview")
    assert list(interview.problems) == ["APPS/1", "APPS/2", "APPS/4"]
    assert interview.version == "interview:0shot"
    both = get_benchmark(f"apps:{apps_data}:1shot:competition")
    assert list(both.problems) == ["APPS/3", "APPS/5"]
    assert parse_spec(f"{apps_data}:competition:1shot") == parse_spec(
        f"{apps_data}:1shot:competition"
    )


def bad(spec: str) -> str:
    with pytest.raises(BenchmarkError) as info:
        get_benchmark(spec)
    return str(info.value)


def test_a_difficulty_that_does_not_exist_is_refused(apps_data: Path) -> None:
    assert bad(f"apps:{apps_data}:hard") == (
        f"apps: {apps_data}:hard: unknown difficulty or option 'hard'; "
        "difficulties: introductory, interview, competition, all; option: 1shot"
    )


def test_missing_data_is_refused(tmp_path: Path) -> None:
    assert (
        bad(f"apps:{tmp_path / 'nothing'}")
        == f"apps: {tmp_path / 'nothing'}: no such file or folder"
    )
    (tmp_path / "APPS" / "test").mkdir(parents=True)
    assert bad(f"apps:{tmp_path / 'APPS'}") == (
        f"apps: {tmp_path / 'APPS'}: no problem folders (sub-folders with question.txt); "
        "for the authors' archive give its test/ or train/ folder"
    )
    assert bad("apps:") == "apps: needs a path, e.g. apps:APPS/test or apps:test.jsonl:interview"


def test_bad_problem_folders_are_named(tmp_path: Path) -> None:
    root = write_folders(tmp_path / "a", {7: ADD})
    (root / "0007" / "input_output.json").write_text('{"inputs": [')
    where = root / "0007" / "input_output.json"
    assert bad(f"apps:{root}").startswith(f"apps: {where}: not JSON: Expecting value: line 1")
    (root / "0007" / "input_output.json").unlink()
    assert bad(f"apps:{root}") == f"apps: {where}: no such file: the problem has no tests"
    (root / "0007" / "input_output.json").write_text('{"inputs": [], "outputs": []}')
    assert bad(f"apps:{root}") == f"apps: {where}: no test cases: the problem has no tests"
    (root / "0007" / "input_output.json").write_text('{"inputs": ["1"], "outputs": []}')
    assert bad(f"apps:{root}") == (
        f"apps: {where}: 'inputs' and 'outputs' must be lists of the same length"
    )
    (root / "0007" / "input_output.json").write_text('{"inputs": ["1"], "outputs": [3]}')
    assert bad(f"apps:{root}") == f"apps: {where}: test case 1 is not text (a string or lines)"


def test_bad_jsonl_rows_are_named(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    rows = [hf_row(0, ADD), {**hf_row(1, ADD), "input_output": ""}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert bad(f"apps:{path}") == (
        f"apps: {path}:2 (problem 1): 'input_output' is empty: the problem has no tests"
    )
    rows[1]["input_output"] = "{nope"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert bad(f"apps:{path}").startswith(
        f"apps: {path}:2 (problem 1): 'input_output': not JSON: Expecting property name"
    )
    rows[1] = hf_row(0, ADD)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert bad(f"apps:{path}") == f"apps: {path}:2 (problem 0): duplicate problem APPS/0"
    path.write_text("{not json\n")
    assert bad(f"apps:{path}").startswith(f"apps: {path}:1: ")


# ---------------------------------------------------------------- judging


def sandboxes() -> list[str]:
    found = []
    for mode in ("native", "bwrap", "gvisor", "none"):
        try:
            choose_sandbox(mode)
        except SandboxUnavailable:
            continue
        found.append(mode)
    return found


@pytest.mark.parametrize("mode", ["assert", "io"])
def test_canonical_solutions_pass_in_every_sandbox(tmp_path: Path, mode: str) -> None:
    spec = f"apps:{write_folders(tmp_path / 'test')}"
    samples = write_samples(tmp_path / "canonical.jsonl", canonical_rows(spec))
    for sandbox in sandboxes():
        rows = results(samples, spec, mode=mode, sandbox=sandbox)
        assert [(r["task_id"], r["result"]) for r in rows] == [
            (f"APPS/{n}", "passed") for n in range(5)
        ], sandbox


# ---------------------------------------------------------------- metrics

ADD_SAMPLES = [  # problem 0: five cases, the first three its public examples
    "a, b = map(int, input().split())\nprint(a + b)\n",  # passes
    "a, b = map(int, input().split())\nprint(a + b + (a == 10))\n",  # wrong on case 4: kept
    "a, b = map(int, input().split())\nprint(a - b)\n",  # wrong on case 1
    "a, b = map(int, input().split())\nwhile a == -1:\n    pass\nprint(a + b)\n",  # loops on 5
    "a, b = map(int, input().split())\nwhile a == 3:\n    pass\nprint(a + b)\n",  # loops on 2
]
TOTAL_SAMPLES = [  # problem 2: call-based, four cases
    "def total(xs):\n    return sum(xs)\n",  # passes
    "def total(xs):\n    return sum(xs) + (xs == [5, 5])\n",  # wrong on case 4: kept
    "def total(xs):\n    return 1 // (xs != [3]) * sum(xs)\n",  # raises on case 2
    "def total(xs):\n    return 0\n",  # wrong on case 1
    "def total(xs):\n    return sum(xs) if len(xs) < 2 or xs[0] != 5 else 0\n",  # wrong on 4: kept
]


def test_filtered_pass_at_k_on_a_hand_checked_run(tmp_path: Path) -> None:
    """Raw pass@k counts passes; filtered pass@k keeps the samples that pass the first three
    cases; in brackets, timeouts count as passes. Worked out by hand:
    problem 0: n 5, passed 1 (3 counting its two timeouts); kept 3 (s0, s1, s3), 1 correct;
      counting timeouts kept 4 (s4 too), 3 correct.
    problem 2: n 5, passed 1; kept 3 (t0, t1, t4), 1 correct; no timeouts."""
    spec = f"apps:{write_folders(tmp_path / 'test', {0: ADD, 2: TOTAL})}"
    rows = [
        {"task_id": task, "completion": text}
        for task, texts in (("APPS/0", ADD_SAMPLES), ("APPS/2", TOTAL_SAMPLES))
        for text in texts
    ]
    samples = write_samples(tmp_path / "samples.jsonl", rows)
    execution = ExecutionOptions(workers=2).with_limits(timeout=1.0, wall_timeout=3.0)
    summary = evaluate(samples, benchmark=spec, k=[1, 2], execution=execution).summary
    verdicts = [
        json.loads(line)["result"] for line in (tmp_path / "samples.jsonl_results.jsonl").open()
    ]
    assert verdicts == [
        "passed",
        "failed: WrongAnswer: case 4: line 1: expected '30', got '31'",
        "failed: WrongAnswer: case 1: line 1: expected '3', got '-1'",
        "timed out: case 5",
        "timed out: case 2",
        "passed",
        "failed: AssertionError: case 4: expected [10], got 11",
        "failed: ZeroDivisionError: case 2: integer division or modulo by zero",
        "failed: AssertionError: case 1: expected [3], got 0",
        "failed: AssertionError: case 4: expected [10], got 0",
    ]
    table = summary["examples_filter"]
    assert (
        table["problems"],
        table["samples"],
        table["kept"],
        table["kept_timeouts_as_passes"],
    ) == (2, 10, 6, 7)
    assert table["raw"] == {"pass@1": pytest.approx(0.2), "pass@2": pytest.approx(0.4)}
    assert table["raw_timeouts_as_passes"] == {
        "pass@1": pytest.approx((3 / 5 + 1 / 5) / 2),
        "pass@2": pytest.approx((1 - 1 / 10 + 0.4) / 2),  # 1 - C(2,2)/C(5,2); 1 - C(4,2)/C(5,2)
    }
    assert table["filtered"] == {"pass@1": pytest.approx(1 / 3), "pass@2": pytest.approx(2 / 3)}
    assert table["filtered_timeouts_as_passes"] == {
        "pass@1": pytest.approx((3 / 4 + 1 / 3) / 2),
        "pass@2": pytest.approx((1 + 2 / 3) / 2),  # 4 kept, 3 correct: every pair has one
    }
    levels = summary["per_difficulty"]
    assert list(levels) == ["introductory", "interview"]  # the paper's order
    assert levels["introductory"]["filtered"]["pass@1"] == pytest.approx(1 / 3)
    assert levels["introductory"]["raw_timeouts_as_passes"]["pass@1"] == pytest.approx(3 / 5)
    assert levels["interview"]["raw"]["pass@1"] == pytest.approx(1 / 5)
    assert summary["per_problem"]["APPS/0"] == {"n": 5, "passed": 1, "passed_examples": 3}
    assert summary["pass_at_k"]["pass@1"] == pytest.approx(0.2)


def test_the_report_shows_table_2(tmp_path: Path) -> None:
    from passk.analysis.report.sections import _difficulty_blocks

    summary = {
        "pass_at_k": {"pass@1": 0.2},
        "examples_filter": {
            "problems": 2, "samples": 10, "kept": 6,
            "raw": {"pass@1": 0.2}, "raw_timeouts_as_passes": {"pass@1": 0.4},
            "filtered": {"pass@1": 1 / 3}, "filtered_timeouts_as_passes": {"pass@1": 0.5},
        },
        "per_difficulty": {"interview": {"problems": 1, "samples": 5, "kept": 3, "raw": {"pass@1": 0.2}}},
    }  # fmt: skip
    _, table = _difficulty_blocks(summary)
    assert table.headers == ["metric (%)", "all", "interview"]
    cells = [[getattr(c, "text", c) for c in row] for row in table.rows]
    assert cells[3:] == [
        ["raw pass@1", "20.00 (40.00)", "20.00"],
        ["filtered pass@1", "33.33 (50.00)", "-"],
    ]


# ---------------------------------------------------------------- resume


def test_a_stdio_run_resumes_without_running_a_sample_twice(tmp_path: Path) -> None:
    """A run interrupted part way keeps its verdicts; --resume runs only the rest. Each sample
    prints a fresh random number, so a verdict run twice would show a new one."""
    spec = f"apps:{write_folders(tmp_path / 'test', {0: ADD})}"
    program = "import os, time\ntime.sleep(0.1)\nprint(os.urandom(8).hex())\n"
    rows = [{"task_id": "APPS/0", "completion": program} for _ in range(12)]
    samples = write_samples(tmp_path / "samples.jsonl", rows)
    journal = tmp_path / "samples.jsonl_results.jsonl.partial"
    command = [sys.executable, "-m", "passk", "evaluate", str(samples), "--benchmark", spec,
               "--workers", "1", "--k", "1", "--no-progress"]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (journal.exists() and journal.read_bytes().count(b"\n") >= 4):
        assert time.monotonic() < deadline and proc.poll() is None, "no verdicts in the journal"
        time.sleep(0.02)
    proc.send_signal(
        signal.SIGTERM
    )  # as Ctrl-C; SIGINT may be ignored where tests run in the background
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "--resume" in err
    assert not (tmp_path / "samples.jsonl_results.jsonl").exists()
    before = {
        r["completion_id"]: r["result"]
        for r in map(json.loads, journal.read_text().splitlines()[1:])
    }
    assert 3 <= len(before) < 12
    evaluate(samples, benchmark=spec, k=[1], execution=ExecutionOptions(workers=2), resume=True)
    after = [json.loads(line) for line in (tmp_path / "samples.jsonl_results.jsonl").open()]
    assert len(after) == 12 and not journal.exists()
    assert all(
        r["result"].startswith("failed: WrongAnswer: case 1: line 1: expected '3', got '")
        for r in after
    )
    assert {
        r["completion_id"]: r["result"] for r in after if r["completion_id"] in before
    } == before
    assert len({r["result"] for r in after}) == 12  # every sample ran once: 12 different numbers


@pytest.mark.parametrize(
    "name",
    [
        "passk.benchmarks.apps",
        "passk.execution.stdio",
        "passk.metrics.passk",
        "passk.records.result",
        "passk.outcome",
    ],
)
def test_module_doctests_pass(name: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0
    assert result.failed == 0
