"""Answer extraction against a fixture set of realistic chat answers (tests/data/chat_answers.jsonl):
each answer, to a real HumanEval problem, becomes exactly its expected program or failure; the
expected programs pass or fail HumanEval's tests in the sandbox as the fixtures say (so the set
is realistic and the comparison in benchmarks/extraction.py is meaningful); and properties
over hostile and cut answers: never blank code without a failure, the same result every time.
"""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from passk.benchmarks import Benchmark, Problem
from passk.errors import InputError
from passk.execution.pool import Job, WorkerPool
from passk.generation import extraction
from passk.generation.extraction import (
    Extracted,
    extract,
    extract_completion,
    extraction_source,
)
from passk.generation.types import AnswerFailure, Completion

FIXTURES = Path(__file__).parent / "data" / "chat_answers.jsonl"
CASES = [json.loads(line) for line in FIXTURES.read_text().splitlines()]


def outcome(e: Extracted) -> dict[str, Any]:
    if e.failure is not None:
        return {"extraction": e.extraction, "failure": e.failure.value}
    return {"extraction": e.extraction, "kind": e.kind, "text": e.text}


def extract_case(case: dict[str, Any], problem: Problem) -> Extracted:
    return extract(
        problem,
        case["answer"],
        reasoning=case["reasoning"],
        finish_reason=case["finish_reason"],
    )


def test_module_doctests_pass() -> None:
    assert doctest.testmod(extraction).failed == 0


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_each_answer_becomes_its_expected_program(
    case: dict[str, Any], humaneval: Benchmark
) -> None:
    expected = {k: v for k, v in case["expected"].items() if k != "passes"}
    assert outcome(extract_case(case, humaneval.problems[case["task_id"]])) == expected


def test_the_fixture_set_covers_every_rule() -> None:
    assert len(CASES) >= 60
    found = {c["expected"]["extraction"] for c in CASES}
    sources = [
        "fence:python",
        "fence:untagged",
        "fence:entry-point",
        "fence:last",
        "fence:unclosed",
        "whole-answer",
        "prose",
    ]
    assert all(any(e.startswith(source) for e in found) for source in sources)
    assert {extraction_source(e) for e in found} == {*sources, *(e for e in found if "none:" in e)}
    changes = {"+imports", "+helpers", "+blocks", "-main", "-examples", "+reindent"}
    assert all(any(change in e for e in found) for change in changes)
    assert {"none:NoCode", "none:Truncated", "none:ReasoningOnly"} <= found
    assert {c["finish_reason"] for c in CASES} == {"stop", "length"}
    assert any(c["reasoning"] for c in CASES)
    assert any("\r\n" in c["answer"] for c in CASES) and any("\t" in c["answer"] for c in CASES)


def test_expected_programs_pass_or_fail_the_tests_as_declared(humaneval: Benchmark) -> None:
    jobs = []
    for index, case in enumerate(CASES):
        expected = case["expected"]
        if "text" in expected:
            problem = humaneval.problems[case["task_id"]]
            program = problem.program(expected["text"], is_solution=expected["kind"] == "solution")
            jobs.append(Job(index, program))
    with WorkerPool(2, preimports=humaneval.preimports) as pool:
        verdicts = dict(pool.run(jobs))
    wrong = [
        (CASES[i]["id"], v.result)
        for i, v in verdicts.items()
        if v.passed != CASES[i]["expected"]["passes"]
    ]
    assert wrong == [] and len(verdicts) == len(jobs) >= 50


# ---- properties ------------------------------------------------------------------------------


def hostile_answers() -> list[tuple[str, str]]:
    """Every fixture cut at several places, and answers made to confuse a parser."""
    answers = []
    for case in CASES:
        text = case["answer"]
        for cut in sorted({len(text) // 4, len(text) // 2, len(text) - 3}):
            answers.append((case["task_id"], text[: max(cut, 0)]))
    odd = [
        "```",
        "```python\n```",
        "```python\n\n\n```",
        "<think></think>",
        "</think>",
        "<think>a</think><think>b",
        "\x00def f(): pass",
        "```python\ndef strlen(string):\n\treturn len(string)\n        pass\n```",
        "~~~\n```python\nx\n```\n~~~",
        "```python\n" + "(" * 200 + "\n```",
        "\ufeffdef strlen(s):\n    return len(s)",
        "    \n\t\n",
        "@decorator",
        "from x import (",
    ]
    return answers + [("HumanEval/23", a) for a in odd]


@pytest.mark.parametrize("finish_reason", ["stop", "length"])
def test_never_blank_code_without_a_failure(humaneval: Benchmark, finish_reason: str) -> None:
    for task_id, answer in hostile_answers():
        e = extract(humaneval.problems[task_id], answer, finish_reason=finish_reason)
        assert (e.failure is None) == bool(e.text.strip()), (answer, e)
        assert e.extraction.startswith("none:") == (e.failure is not None)


def test_extracted_refuses_blank_code_without_a_failure() -> None:
    with pytest.raises(ValueError, match="never both or neither"):
        Extracted("  \n", "completion", "whole-answer")
    with pytest.raises(ValueError, match="never both or neither"):
        Extracted("x = 1\n", "completion", "none:NoCode", AnswerFailure.NO_CODE)
    with pytest.raises(ValueError, match="kind must be"):
        Extracted("x = 1\n", "program", "whole-answer")  # type: ignore[arg-type]


def test_the_same_answer_gives_the_same_program_in_every_process(humaneval: Benchmark) -> None:
    # String hashing differs between processes: nothing may depend on the order of a set.
    here = [outcome(extract_case(c, humaneval.problems[c["task_id"]])) for c in CASES]
    script = (
        "import json, sys\n"
        "from passk.benchmarks import get_benchmark\n"
        "from test_extraction import CASES, extract_case, outcome\n"
        "problems = get_benchmark('humaneval').problems\n"
        "print(json.dumps([outcome(extract_case(c, problems[c['task_id']])) for c in CASES]))\n"
    )
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(Path(__file__).parent)}
        run = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        assert json.loads(run.stdout) == here


# ---- modes and endpoint failures -------------------------------------------------------------


def test_extract_none_runs_the_answer_as_it_is(humaneval: Benchmark) -> None:
    problem = humaneval.problems["HumanEval/23"]
    answer = "```python\n    return len(string)\n```\r\n"
    e = extract(problem, answer, mode="none")
    assert (e.text, e.kind, e.extraction, e.failure) == (answer, "completion", "raw", None)
    e = extract(problem, " \n", mode="none")
    assert (e.text, e.extraction, e.failure) == ("", "none:NoCode", AnswerFailure.NO_CODE)


def test_an_unknown_mode_is_one_clear_error(humaneval: Benchmark) -> None:
    with pytest.raises(InputError, match=r"^--extract must be one of auto, none, got 'some'$"):
        extract(humaneval.problems["HumanEval/23"], "x", mode="some")


def test_an_endpoints_failure_carries_through(humaneval: Benchmark) -> None:
    problem = humaneval.problems["HumanEval/23"]
    refused = Completion(
        "", 0, None, None, "stop", failure=AnswerFailure.REFUSED, error="refusal: no"
    )
    e = extract_completion(problem, refused)
    assert (e.text, e.extraction, e.failure) == ("", "none:Refused", AnswerFailure.REFUSED)
    answered = Completion("```python\n    return len(string)\n```", 9, None, None, "stop")
    e = extract_completion(problem, answered)
    assert (e.text, e.kind, e.extraction) == (
        "    return len(string)\n",
        "completion",
        "fence:python",
    )
    assert extract_completion(problem, answered, "none").text == answered.text
    cut = Completion("<think>so", 9, None, None, "length", reasoning="first")
    assert extract_completion(problem, cut).failure is AnswerFailure.TRUNCATED


def test_an_unclosed_final_fence_counts_when_a_users_stop_may_have_cut_it(
    humaneval: Benchmark,
) -> None:
    # `--response-prefix '```python\n' --stop '```'`: the answer ends at its closing fence,
    # which the stop removed, and the endpoint says only "stop".
    problem = humaneval.problems["HumanEval/23"]
    answer = "```python\ndef strlen(string: str) -> int:\n    return len(string)\n"
    model_ended = extract(problem, answer, finish_reason="stop")
    assert model_ended.failure == AnswerFailure.NO_CODE  # the model ended its turn mid-block
    cut = extract(problem, answer, finish_reason="stop", user_stops=True)
    assert (cut.kind, cut.extraction, cut.failure) == ("solution", "fence:unclosed", None)
    assert cut.text == "def strlen(string: str) -> int:\n    return len(string)\n"
    # Closed blocks are unaffected, and "length" counts it with or without the user's stops.
    closed = extract(problem, answer + "```\nDone.", finish_reason="stop", user_stops=True)
    assert closed.extraction == "fence:python"
    assert extract(problem, answer, finish_reason="length").extraction == "fence:unclosed"
