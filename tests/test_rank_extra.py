"""Back-translation and docstring-examples rankings (`passk rank --back-translation --examples`):
ranking math with injected scores, LocalBackend.score against a plain forward pass, example
extraction on HumanEval, the examples filter in the real sandbox, and the CLI end to end."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from passk.analysis import backtranslation
from passk.analysis.examples import docstring_examples
from passk.analysis.ranking import examples_score, field_score, rank_curves
from passk.benchmarks import Benchmark
from passk.benchmarks.docstrings import prompt_docstring
from passk.cli import rank_command
from passk.errors import InputError
from passk.execution import Limits
from passk.execution.options import ExecutionOptions
from passk.generation.local import LocalBackend
from passk.generation.types import GenerationOptions, SamplingParams
from passk.pipeline import run as run_pipeline
from passk.scoring import add_example_verdicts
from test_ranking import brute_force, curve
from tiny_model import make_tiny_model


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")


# ---- back-translation ---------------------------------------------------------------------------


def test_back_translation_pair_hides_the_docstring_and_scores_it(humaneval: Benchmark) -> None:
    problem = humaneval.problems["HumanEval/115"]  # the docstring follows `import math`
    prompt, continuation = backtranslation.back_translation_pair(
        problem, {"task_id": problem.task_id, "completion": "    return 0\n"}
    )
    assert prompt == (
        "\ndef max_fill(grid, capacity):\n    import math\n    return 0\n\n\n"
        '# The docstring of max_fill, written for the code above:\n"""\n'
    )
    assert continuation.startswith("You are given a rectangular grid of wells.")
    assert continuation.endswith('* 1 <= capacity <= 10\n"""')


def test_every_humaneval_prompt_has_a_docstring_to_score(humaneval: Benchmark) -> None:
    for problem in humaneval.problems.values():
        docstring = prompt_docstring(problem).text
        code = backtranslation.sample_code(problem, {"completion": ""})
        assert docstring and docstring not in code
        assert f"def {problem.entry_point}(" in code


def test_injected_back_translation_scores_rank_exactly(humaneval: Benchmark) -> None:
    rng = random.Random(3)
    rows: list[dict[str, Any]] = []
    for task in ("HumanEval/0", "HumanEval/2"):
        for i in range(6):
            score = rng.choice([-3, -2, -1])  # ties on purpose, and a repeated completion
            rows.append(
                {
                    "task_id": task,
                    "completion_id": i,
                    "completion": f"    return None  # {score}\n",
                    "passed": rng.random() < 0.5,
                }
            )
    docstrings = {
        prompt_docstring(humaneval.problems[t]).text for t in ("HumanEval/0", "HumanEval/2")
    }
    calls: list[int] = []

    def fake_score(prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        calls.append(len(prompts))
        assert {c.removesuffix('\n"""') for c in continuations} == docstrings
        return [float(p.split("# ")[1].split("\n")[0]) for p in prompts]

    scored = backtranslation.add_back_translation(rows, humaneval.problems, fake_score)
    assert calls == [scored] and scored <= 6  # at most 3 distinct texts per problem
    result = rank_curves(rows, scores={"back_translation": field_score(backtranslation.FIELD)})
    for task in ("HumanEval/0", "HumanEval/2"):
        mine = [r for r in rows if r["task_id"] == task]
        assert [r[backtranslation.FIELD] for r in mine] == [
            float(r["completion"].split("# ")[1]) for r in mine
        ]
    expected = [
        sum(
            brute_force(
                [r[backtranslation.FIELD] for r in rows if r["task_id"] == task],
                [r["passed"] for r in rows if r["task_id"] == task],
                k,
            )
            for task in ("HumanEval/0", "HumanEval/2")
        )
        / 2
        for k in range(1, 7)
    ]
    assert curve(result, "back_translation") == pytest.approx(expected, abs=1e-12)


def test_examples_score_prefers_passing_then_mean_logp() -> None:
    def row(passes: bool | None, mean_logp: float | None, passed: bool) -> dict[str, Any]:
        return {"task_id": "a", "passes_examples": passes, "mean_logp": mean_logp, "passed": passed}

    rows = [row(False, -0.1, False), row(True, -2.0, True), row(True, -1.0, False)]
    result = rank_curves(rows, scores={"examples": examples_score})
    # Order: (True, -1.0) fails, (True, -2.0) passes, (False, -0.1) fails.
    assert curve(result, "examples") == pytest.approx([1 / 3, 1 / 3, 0.0])
    rows = [row(True, None, True), row(True, None, False), row(True, -5.0, False)]
    result = rank_curves(rows, scores={"examples": examples_score})
    # -5.0 beats the two without a mean_logp, which tie with each other.
    assert curve(result, "examples") == pytest.approx([1 / 3, 1 / 6, 0.0])


def test_without_examples_the_examples_ranking_is_mean_logp() -> None:
    rng = random.Random(5)
    rows = [
        {"task_id": "a", "passes_examples": None, "mean_logp": -rng.random(), "passed": p}
        for p in (True, False, False, True, False)
    ]
    result = rank_curves(
        rows, scores={"examples": examples_score, "mean_logp": field_score("mean_logp")}
    )
    assert curve(result, "examples") == curve(result, "mean_logp")


# ---- LocalBackend.score ---------------------------------------------------------------------------


def test_score_equals_a_full_forward_pass(tiny_dir: Path) -> None:
    backend = LocalBackend(tiny_dir, device="cpu", batch_size=2)  # 5 pairs: 3 padded chunks
    prompts = ["def f(x):\n", "x = 1\n", 'import math\n\n\ndef area(r):\n    """', "a", "y"]
    continuations = ['    """Twice x."""\n', " + 2", "Area of a circle.", "", "\n" * 3]
    scores = backend.score(prompts, continuations)
    tokenizer = backend.tokenizer
    for prompt, continuation, score in zip(prompts, continuations, scores, strict=True):
        head = tokenizer(prompt).input_ids
        tail = tokenizer(continuation, add_special_tokens=False).input_ids
        with torch.no_grad():
            logits = backend.model(torch.tensor([head + tail])).logits[0].float()
        logps = logits.log_softmax(-1)
        expected = sum(float(logps[len(head) - 1 + j, t]) for j, t in enumerate(tail))
        assert score == pytest.approx(expected, abs=1e-4)
    assert scores[3] == 0.0 and all(s < 0 for s in scores[:3])
    assert backend.score([], []) == []


# ---- the docstring examples -----------------------------------------------------------------------


def test_humaneval_example_counts(humaneval: Benchmark) -> None:
    counts = {t: len(docstring_examples(p)) for t, p in humaneval.problems.items()}
    assert sum(1 for c in counts.values() if c) == 76
    assert sum(counts.values()) == 181
    assert counts["HumanEval/0"] == 2
    # HumanEval/51's second example has a newline inside its string: only that one is lost.
    assert counts["HumanEval/51"] == 5
    assert counts["HumanEval/115"] == 0  # "Input: ... Output: ..." is not a >>> example


def test_canonical_solutions_pass_their_examples_but_two(humaneval: Benchmark) -> None:
    rows = [
        {"task_id": t, "completion": p.canonical_solution} for t, p in humaneval.problems.items()
    ]
    lines: list[str] = []
    counts = add_example_verdicts(
        rows,
        humaneval.problems,
        execution=ExecutionOptions(workers=2),
        preimports=humaneval.preimports,
        on_start=lines.append,
    )
    assert counts == {
        "problems": 164,
        "problems_with_examples": 76,
        "samples_run": 76,
        "samples_passing": 74,
    }
    # Both examples are wrong in HumanEval itself: the median of [-10, 4, 6, 1000, 10, 20] is
    # 8.0, not 15.0, and sort_array's examples expect what its tests reject.
    assert {r["task_id"] for r in rows if r["passes_examples"] is False} == {
        "HumanEval/47",
        "HumanEval/116",
    }
    assert lines and lines[-1].startswith("execution: 2 workers")


WRONG = {
    "HumanEval/0": "    return False\n",  # the examples want False and True
    "HumanEval/2": "    return number\n",  # truncate_number(3.5) is 0.5
    "HumanEval/12": "    return strings[0]\n",  # longest([]) must return None, not raise
    "HumanEval/108": "    return 0\n",  # examples written as `count_nums(...) == 3`
}


def test_examples_filter_in_the_sandbox(humaneval: Benchmark) -> None:
    rows = []
    for task, wrong in WRONG.items():
        problem = humaneval.problems[task]
        rows += [
            {"task_id": task, "completion": problem.canonical_solution},
            {"task_id": task, "completion": wrong},
            {"task_id": task, "solution": problem.prompt + problem.canonical_solution},
        ]
    rows.append({"task_id": "HumanEval/0", "completion": "    while True:\n        pass\n"})
    rows.append({"task_id": "HumanEval/115", "completion": "    while True:\n        pass\n"})
    counts = add_example_verdicts(
        rows,
        humaneval.problems,
        execution=ExecutionOptions(Limits(timeout=0.5), workers=2),
        preimports=humaneval.preimports,
    )
    assert [r["passes_examples"] for r in rows] == [True, False, True] * 4 + [False, None]
    assert counts == {
        "problems": 5,
        "problems_with_examples": 4,  # HumanEval/115 has none: its sample is not run
        "samples_run": 13,
        "samples_passing": 8,
    }


# ---- the command ----------------------------------------------------------------------------------


def run_rank(argv: list[str]) -> str:
    parser = argparse.ArgumentParser()
    rank_command.register(parser.add_subparsers())
    args = parser.parse_args(["rank", *argv])
    out = io.StringIO()
    with (
        pytest.MonkeyPatch.context() as mp,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        mp.setenv("COLUMNS", "1000")
        assert args.handler(args) == 0
    return out.getvalue()


@pytest.fixture(scope="module")
def tiny_run(tiny_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("run") / "run"
    run_pipeline(
        str(tiny_dir),
        out=directory,
        generation=GenerationOptions(
            params=SamplingParams(temperature=1.0, max_tokens=12),
            n=3,
            tasks=("HumanEval/0", "HumanEval/12", "HumanEval/115"),
        ),
        execution=ExecutionOptions(workers=2),
    )
    return directory


def test_cli_back_translation_and_examples_on_a_tiny_run(tiny_run: Path, tiny_dir: Path) -> None:
    out = run_rank([str(tiny_run), "--back-translation", "--examples", "--workers", "2"])
    header = ["k", "random", "%", "oracle", "%", "mean_logp", "%", "sum_logp", "%"]
    assert [*header, "back_translation", "%", "examples", "%"] in [
        x.split() for x in out.splitlines()
    ]
    assert "expectation over k-subsets: exact" in out
    assert f"back_translation: log P(docstring | code) under {tiny_dir} (" in out
    assert "examples: 2 of 3 problems have >>> examples; " in out
    saved = json.loads((tiny_run / "ranking.json").read_text())
    assert saved["ks"] == [1, 2, 3]
    assert saved["back_translation"]["model"] == str(tiny_dir)
    assert 1 <= saved["back_translation"]["texts_scored"] <= 9
    assert saved["examples"]["problems_with_examples"] == 2
    assert saved["examples"]["samples_run"] == 6
    for name in ("back_translation", "examples"):
        assert all(0.0 <= v <= 1.0 for _, v in saved["curves"][name])


def test_cli_docstring_model_overrides_the_run_model(tiny_run: Path, tiny_dir: Path) -> None:
    config = json.loads((tiny_run / "config.json").read_text())
    other = tiny_run.parent / "openai-run"
    other.mkdir(exist_ok=True)
    (other / "results.jsonl").write_text((tiny_run / "results.jsonl").read_text())
    (other / "config.json").write_text(json.dumps({**config, "model": "openai:http://x/v1"}))
    with pytest.raises(InputError) as info:
        run_rank([str(other), "--back-translation"])
    assert str(info.value) == (
        "--back-translation scores with a local model directory, and the run's model is "
        "openai:http://x/v1; give --docstring-model DIR"
    )
    out = run_rank([str(other), "--back-translation", "--docstring-model", str(tiny_dir)])
    assert f"under {tiny_dir} (" in out


def test_cli_back_translation_errors(tmp_path: Path) -> None:
    row = {"task_id": "HumanEval/0", "completion_id": 0, "completion": "", "passed": False}
    (tmp_path / "results.jsonl").write_text(json.dumps(row) + "\n")
    with pytest.raises(InputError, match=r"^--back-translation: no run config.json beside"):
        run_rank([str(tmp_path), "--back-translation"])
    with pytest.raises(InputError, match=r"^--docstring-model is for --back-translation"):
        run_rank([str(tmp_path), "--docstring-model", "x"])
    with pytest.raises(InputError, match=r"^model directory .*missing does not exist$"):
        run_rank(
            [str(tmp_path), "--back-translation", "--docstring-model", str(tmp_path / "missing")]
        )


def test_doctests() -> None:
    import doctest

    from passk.analysis import examples, ranking
    from passk.benchmarks import docstrings

    for module in (backtranslation, docstrings, examples, ranking):
        result = doctest.testmod(module)
        assert result.failed == 0 and result.attempted > 0, module.__name__
