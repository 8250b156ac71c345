"""HumanEval+ built here (`--benchmark humaneval-plus`): the data file is the one recorded, every
canonical solution passes every new test in each sandbox mode and both verdict modes, the
preconditions reject what the docstrings forbid, the fixed canonical solutions were wrong, and
the new tests catch wrong programs that HumanEval's own tests let through.

The generator's contracts and mutation code live in scripts/ (they make the data; the package
only reads it); they are loaded from there by path.
"""

from __future__ import annotations

import ast
import gzip
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import passk
from passk.benchmarks import Benchmark, Problem, available_benchmarks, get_benchmark
from passk.benchmarks import humaneval_plus as plus
from passk.errors import BenchmarkError
from passk.evaluation import make_job
from passk.execution import Job, Limits, Verdict, WorkerPool
from passk.execution.options import ExecutionOptions
from passk.execution.sandbox import SandboxUnavailable, choose_sandbox
from passk.records import Sample
from test_cheats import FIND_ZERO_ALTERNATIVE

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
SANDBOXES = ("native", "bwrap", "gvisor", "none")
WORKERS = 2


def load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


contracts = load_script("humaneval_plus_contracts")
mutation = load_script("humaneval_plus_mutation")


@pytest.fixture(scope="module")
def bench() -> Benchmark:
    return get_benchmark("humaneval-plus")


@pytest.fixture(scope="module")
def fixes() -> list[dict[str, Any]]:
    return json.loads(plus.FIXES_FILE.read_text(encoding="utf-8"))


def run_jobs(jobs: list[Job], sandbox: str = "auto", limits: Limits | None = None) -> list[Verdict]:
    """Verdicts in job order, from one pool."""
    verdicts: dict[int, Verdict] = {}
    pool = WorkerPool(WORKERS, limits=limits, sandbox=choose_sandbox(sandbox))
    with pool:
        for index, verdict in pool.run(jobs):
            verdicts[index] = verdict
    return [verdicts[i] for i in range(len(jobs))]


# ---------------------------------------------------------------- the data


def test_the_data_file_matches_its_recorded_digest(bench: Benchmark) -> None:
    assert plus.data_sha256() == plus.DATA_SHA256
    assert plus.DATA_FILE.stat().st_size < 3 << 20
    header = json.loads(gzip.decompress(plus.DATA_FILE.read_bytes()).split(b"\n", 1)[0])
    assert header["format"] == plus.FORMAT
    assert header["command"] == plus.REGENERATE
    assert len(bench.problems) == 164
    assert bench.describe()["name"] == "humaneval-plus"


def test_a_changed_data_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    changed = tmp_path / "humaneval_plus.jsonl.gz"
    data = gzip.decompress(plus.DATA_FILE.read_bytes()).replace(b"True", b"False", 1)
    changed.write_bytes(gzip.compress(data, mtime=0))
    monkeypatch.setattr(plus, "DATA_FILE", changed)
    with pytest.raises(BenchmarkError, match="does not match its recorded digest"):
        plus.load_humaneval_plus()


def test_the_benchmark_is_registered() -> None:
    assert "humaneval-plus" in available_benchmarks()
    assert get_benchmark("HumanEval-Plus").name == "humaneval-plus"


def test_problems_keep_humaneval_and_add_tests(bench: Benchmark, humaneval: Benchmark) -> None:
    rows = _rows()
    for task_id, problem in bench.problems.items():
        original = humaneval.problems[task_id]
        assert (problem.prompt, problem.entry_point) == (original.prompt, original.entry_point)
        assert problem.test.startswith(original.test.rstrip("\n"))
        assert f"# HumanEval+ (passk): {len(rows[task_id]['tests'])} more tests" in problem.test
    counts = [len(row["tests"]) for row in rows.values()]
    assert sum(counts) > 0.9 * 100 * 164 and max(counts) == 100
    rules = {t: row["compare"] for t, row in rows.items()}
    assert rules["HumanEval/32"] == "find_zero"
    assert rules["HumanEval/2"] == rules["HumanEval/4"] == "close"
    assert rules["HumanEval/72"] == "identity"
    assert rules["HumanEval/0"] == "exact"


def _rows() -> dict[str, dict[str, Any]]:
    lines = gzip.decompress(plus.DATA_FILE.read_bytes()).decode().splitlines()[1:]
    return {row["task_id"]: row for row in map(json.loads, lines)}


def test_the_test_table_is_plain_literals() -> None:
    for task_id, row in _rows().items():
        for args, expected in row["tests"]:
            assert type(ast.literal_eval(args)) is tuple, task_id
            ast.literal_eval(expected)


# ---------------------------------------------------------------- the canonical solutions


def canonical_jobs(bench: Benchmark) -> list[Job]:
    problems = list(bench.problems.values())
    return [
        make_job(i + offset, p, Sample(p.task_id, 0, p.canonical_solution), mode)
        for offset, mode in ((0, "assert"), (len(problems), "io"))
        for i, p in enumerate(problems)
    ]


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_every_canonical_solution_passes_every_new_test(bench: Benchmark, sandbox: str) -> None:
    """All 164, in assert and io mode, under the default limits, in one pool per sandbox."""
    try:
        choose_sandbox(sandbox)
    except SandboxUnavailable as e:
        pytest.skip(f"sandbox {sandbox} is not available here: {e}")
    jobs = canonical_jobs(bench)
    verdicts = run_jobs(jobs, sandbox)
    task_ids = [p.task_id for p in bench.problems.values()] * 2
    failing = [(task_ids[i], v.result) for i, v in enumerate(verdicts) if not v.passed]
    assert failing == []
    if sandbox != "gvisor":  # gVisor's ptrace platform bills its own work: ~4x the CPU
        assert max(v.cpu_s for v in verdicts) < Limits().timeout / 3  # well inside the limit


def test_the_fixed_canonical_solutions_were_wrong(
    fixes: list[dict[str, Any]], humaneval: Benchmark, bench: Benchmark
) -> None:
    """Each fix's example, run in the sandbox: the original gives the recorded wrong answer, the
    fix the right one; the fixed solution is the benchmark's."""
    jobs = []
    for fix in fixes:
        original = humaneval.problems[fix["task_id"]]
        example = fix["example"]
        for solution, answer in (
            (original.canonical_solution, example["original"]),
            (fix["canonical_solution"], example["fixed"]),
        ):
            call = f"{original.entry_point}(*{example['input']})"
            check = f"\nassert {call} == {answer}, {call}\n"
            jobs.append(Job(len(jobs), original.prompt + solution + check))
        assert bench.problems[fix["task_id"]].canonical_solution == fix["canonical_solution"]
        assert len(fix["reason"]) > 40
    assert [v.result for v in run_jobs(jobs)] == ["passed"] * len(jobs)
    assert {f["task_id"] for f in fixes} == {
        "HumanEval/91", "HumanEval/95", "HumanEval/97", "HumanEval/122", "HumanEval/124",
    }  # fmt: skip


# ---------------------------------------------------------------- the preconditions


def test_every_problem_has_a_contract_that_says_why(humaneval: Benchmark) -> None:
    table = contracts.CONTRACTS
    assert set(table) == set(humaneval.problems)
    for task_id, contract in table.items():
        assert contract.note, task_id
        assert contract.restricts != contract.note.startswith("no restriction"), task_id
    assert sum(c.restricts for c in table.values()) > 80


FORBIDDEN = [
    ("HumanEval/4", ([],), "the mean of an empty list"),
    ("HumanEval/11", ("01", "1"), "strings of different lengths"),
    ("HumanEval/11", ("012", "110"), "a digit that is not binary"),
    ("HumanEval/17", ("o  o|",), "two spaces between notes"),
    ("HumanEval/20", ([1.0],), "one number"),
    ("HumanEval/20", ([1.0, 2.0, 3.0],), "two closest pairs"),
    ("HumanEval/21", ([2.0, 2.0],), "all equal"),
    ("HumanEval/24", (1,), "no smaller divisor"),
    ("HumanEval/32", ([1, 2, 3],), "an odd number of coefficients"),
    ("HumanEval/32", ([1, 2, 3, 0],), "a zero leading coefficient"),
    ("HumanEval/50", ("Hello",), "not an encode_shift output"),
    ("HumanEval/59", (13,), "a prime"),
    ("HumanEval/64", ("",), "not a word"),
    ("HumanEval/67", ("5 apples and 6 pears", 19), "not the format"),
    ("HumanEval/67", ("5 apples and 6 oranges", 10), "fewer fruits than apples and oranges"),
    ("HumanEval/69", ([0, 1],), "not positive"),
    ("HumanEval/75", (105,), "not less than 100"),
    ("HumanEval/84", (10001,), "past the constraint"),
    ("HumanEval/88", ([3, -1],), "a negative number"),
    ("HumanEval/92", (True, 1, 2), "a boolean"),
    ("HumanEval/107", (1001,), "past 10^3"),
    ("HumanEval/109", ([1, 2, 1],), "duplicates"),
    ("HumanEval/115", ([[0, 2]], 1), "a cell that is not 0 or 1"),
    ("HumanEval/115", ([[0, 1]], 11), "a capacity past 10"),
    ("HumanEval/120", ([5000], 1), "an element past 1000"),
    ("HumanEval/124", ("4-11-2000",), "not mm-dd-yyyy"),
    ("HumanEval/129", ([[1, 2], [2, 4]], 3), "not a permutation of 1..N*N"),
    ("HumanEval/129", ([[1]], 1), "N < 2"),
    ("HumanEval/144", ("0/5", "1/2"), "a zero numerator"),
    ("HumanEval/156", (1001,), "past 1000"),
    ("HumanEval/160", (["+"], [1, -2]), "a negative operand"),
    ("HumanEval/160", (["%"], [1, 2]), "an unknown operator"),
]


@pytest.mark.parametrize(
    ("task_id", "args", "why"), FORBIDDEN, ids=[f"{t} {w}" for t, _, w in FORBIDDEN]
)
def test_preconditions_reject_what_the_docstrings_forbid(
    task_id: str, args: tuple[Any, ...], why: str
) -> None:
    assert not contracts.CONTRACTS[task_id].allows(args)


# Original inputs outside their problem's contract, and why that is right.
ORIGINAL_OUTSIDE = {
    "HumanEval/75": "the tests use 105, 125, ... although the docstring says a < 100",
    "HumanEval/78": "the test passes [] for an empty string",
    "HumanEval/116": "the test uses negative numbers, the docstring non-negative ones",
    "HumanEval/124": "'04-0-2040' and '2003-04-12' are not in the strict mm-dd-yyyy form",
    "HumanEval/129": "[[1, 3], [3, 2]] repeats 3: not a permutation, as the docstring requires",
}


def literal_calls(problem: Problem) -> list[tuple[Any, ...]]:
    """The arguments of the test's `candidate(...)` calls whose arguments are all literals
    (the test is read as data, not run)."""
    found = []
    for node in ast.walk(ast.parse(problem.test)):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "candidate":
            try:
                found.append(tuple(ast.literal_eval(a) for a in node.args))
            except ValueError:
                continue
    return found


def test_the_original_literal_inputs_meet_the_contracts(humaneval: Benchmark) -> None:
    outside = {
        task_id
        for task_id, problem in humaneval.problems.items()
        for args in literal_calls(problem)
        if not contracts.CONTRACTS[task_id].allows(args)
    }
    assert outside == set(ORIGINAL_OUTSIDE)


def test_generated_inputs_meet_the_contracts_and_keep_types(humaneval: Benchmark) -> None:
    import random

    for task_id in ("HumanEval/67", "HumanEval/129", "HumanEval/22", "HumanEval/95"):
        seeds = literal_calls(humaneval.problems[task_id])
        allowed = contracts.CONTRACTS[task_id].allows
        made = mutation.generate_inputs(seeds, allowed, random.Random(0), target=100)
        assert len(made) == 100, task_id
        assert all(allowed(args) for args, _ in made)
        kinds = {tuple(type(a) for a in s) for s in seeds}
        assert all(tuple(type(a) for a in args) in kinds for args, _ in made), task_id


# ---------------------------------------------------------------- what the new tests catch


def test_find_zero_accepts_any_root(bench: Benchmark) -> None:
    """HumanEval/32 keeps its property check: another root passes, in both modes."""
    problem = bench.problems["HumanEval/32"]
    sample = Sample(problem.task_id, 0, FIND_ZERO_ALTERNATIVE)
    jobs = [make_job(i, problem, sample, mode) for i, mode in enumerate(("assert", "io"))]
    assert [v.result for v in run_jobs(jobs)] == ["passed", "passed"]


# One-site mutants of canonical solutions (humaneval_plus_mutation.program_mutants) that pass
# HumanEval's tests and are wrong: each gives another answer than the canonical solution on an
# input its problem allows.
WRONG_MUTANTS = [
    ("HumanEval/0", "line 16: Lt -> LtE", "a pair exactly `threshold` apart counts as closer"),
    ("HumanEval/20", "line 20: sorted() dropped", "the pair is not in order"),
    ("HumanEval/31", "line 20: constant 2 -> 3", "2 is not prime"),
    ("HumanEval/34", "line 8: sorted() dropped", "set order, sorted only for small ints"),
    ("HumanEval/40", "line 21: constant 1 -> 0", "an element used twice"),
    ("HumanEval/46", "line 19: Lt -> LtE", "fib4(4) indexes past the window"),
    ("HumanEval/58", "line 16: sorted() dropped", "EvalPlus's own example: set order"),
    ("HumanEval/81", "line 39: Gt -> GtE", "a GPA of exactly 2.7 gets B"),
    ("HumanEval/135", "line 13: constant 1 -> 2", "the first pair is never compared"),
    ("HumanEval/150", "line 13: constant 2 -> 3", "4 is prime"),
    ("HumanEval/152", "line 17: abs() dropped", "negative differences"),
    ("HumanEval/163", "line 15: constant 1 -> 2", "an even digit past max(a, b)"),
]


def wrong_mutant(problem: Problem, description: str) -> str:
    made = mutation.program_mutants(problem.prompt, problem.canonical_solution, problem.entry_point)
    (program,) = [text for what, text in made if what == description]
    return str(program)


@pytest.mark.parametrize("mode", ["assert", "io"])
def test_known_wrong_programs_pass_the_original_tests_but_fail_the_new_ones(
    mode: str, tmp_path: Path, fixes: list[dict[str, Any]], humaneval: Benchmark
) -> None:
    """The original canonical solutions of the fixed problems, and the wrong mutants above,
    judged by `passk.evaluate` against both benchmarks."""
    rows = [
        {"task_id": f["task_id"], "completion": humaneval.problems[f["task_id"]].canonical_solution}
        for f in fixes
    ]
    rows += [
        {"task_id": t, "solution": wrong_mutant(humaneval.problems[t], what), "why": why}
        for t, what, why in WRONG_MUTANTS
    ]
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    execution = ExecutionOptions(Limits(timeout=2.0), workers=WORKERS, mode=mode)
    results = {}
    for name in ("humaneval", "humaneval-plus"):
        out = tmp_path / f"{name}.jsonl"
        passk.evaluate(samples, benchmark=name, k=[1], execution=execution, out=out)
        results[name] = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["result"] for r in results["humaneval"]] == ["passed"] * len(rows)
    assert not any(r["passed"] for r in results["humaneval-plus"])
    # the new tests' assertion names the input; /46's mutant raises on one
    expected = ("failed: AssertionError: input (", "failed: IndexError")
    assert all(r["result"].startswith(expected) for r in results["humaneval-plus"])
