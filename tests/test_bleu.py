"""Tests for the BLEU analysis (Figure 8): scores, exact ROC AUC, the analysis and `passk bleu`."""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sacrebleu

from passk.analysis.bleu import bleu_analysis, code_tokens, roc_auc, sentence_bleu
from passk.benchmarks import get_benchmark
from passk.cli import bleu_command
from passk.errors import InputError

WRONG_0 = (  # HumanEval/0's canonical solution with `<` turned into `>`: similar, and wrong
    "    for idx, elem in enumerate(numbers):\n        for idx2, elem2 in enumerate(numbers):\n"
    "            if idx != idx2:\n                distance = abs(elem - elem2)\n"
    "                if distance > threshold:\n                    return True\n\n"
    "    return False\n"
)


def test_identical_code_scores_100() -> None:
    code = get_benchmark("humaneval").problems["HumanEval/0"].canonical_solution
    assert sentence_bleu(code, code) == pytest.approx(100.0)


def test_disjoint_code_scores_0() -> None:
    assert sentence_bleu("alpha beta gamma delta", "w x y z") == 0.0


def test_partial_match_equals_sacrebleu_with_the_same_settings() -> None:
    hyp, ref = "return x_1 >= y", "return x_1 >= z and y"
    expected = sacrebleu.sentence_bleu(code_tokens(hyp), [code_tokens(ref)], tokenize="none")
    assert 0 < sentence_bleu(hyp, ref) < 100
    assert sentence_bleu(hyp, ref) == pytest.approx(expected.score)


def test_code_tokens_keep_identifiers_and_operators_whole() -> None:
    assert code_tokens("if has_close(x_1)>=3.5:") == "if has_close ( x_1 ) >= 3.5 :"


def _pairwise_auc(scores: list[float], labels: list[bool]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(5))
def test_auc_equals_brute_force_pairwise_count_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 60))
    scores = [float(v) for v in rng.integers(0, 5, n)]  # few values: many ties
    labels = [bool(v) for v in rng.integers(0, 2, n)]
    labels[0], labels[1] = True, False
    assert roc_auc(scores, labels) == _pairwise_auc(scores, labels)


def test_auc_constructed_cases() -> None:
    assert roc_auc([3, 4, 1, 2], [True, True, False, False]) == 1.0
    assert roc_auc([1, 2, 3, 4], [True, True, False, False]) == 0.0
    assert roc_auc([7, 7, 7, 7], [True, False, True, False]) == 0.5
    assert roc_auc([1, 4, 2, 3], [True, True, False, False]) == 0.5
    with pytest.raises(ValueError):
        roc_auc([1, 2], [True, True])


def _rows() -> list[dict[str, Any]]:
    problems = get_benchmark("humaneval").problems
    canonical = {t: problems[t].canonical_solution for t in ("HumanEval/0", "HumanEval/2")}
    return [
        {"task_id": "HumanEval/0", "completion": canonical["HumanEval/0"], "passed": True},
        {"task_id": "HumanEval/0", "completion": WRONG_0, "passed": False},
        {"task_id": "HumanEval/0", "completion": "    return False\n", "passed": False},
        {"task_id": "HumanEval/2", "completion": canonical["HumanEval/2"], "passed": True},
        {"task_id": "HumanEval/2", "completion": "    return int(number)\n", "passed": False},
        {"task_id": "HumanEval/4", "completion": "    return 0.0\n", "passed": False},
    ]


def test_analysis_on_real_humaneval_tasks() -> None:
    a = bleu_analysis(_rows(), problems=4)
    bleu = {(s["task_id"], s["completion_id"]): s["bleu"] for s in a["per_sample"]}
    assert bleu["HumanEval/0", 0] == pytest.approx(100.0)
    assert 50 < bleu["HumanEval/0", 1] < 100  # broken, yet BLEU rates it highly
    assert a["samples"] == 6
    assert a["overall"]["correct"]["count"] == 2
    assert a["overall"]["correct"]["median"] == pytest.approx(100.0)
    assert a["overall"]["incorrect"]["count"] == 4
    assert a["auc"]["overall"] == 1.0  # the canonical solutions themselves always win
    assert a["auc"]["per_problem"] == {"HumanEval/0": 1.0, "HumanEval/2": 1.0}
    assert a["auc"]["problems_with_both"] == 2
    assert [p["task_id"] for p in a["problems"]] == ["HumanEval/0", "HumanEval/2"]
    assert a["not_computable"] == {} and a["skipped"] == []
    assert "tokenize='none'" in a["tokenization"]


def test_missing_class_is_explained_and_the_rest_produced() -> None:
    rows = [r for r in _rows() if not r["passed"]] + [
        {"task_id": "HumanEval/999", "completion": "x", "passed": True}
    ]
    a = bleu_analysis(rows)
    assert a["auc"]["overall"] is None and a["auc"]["per_problem_mean"] is None
    assert a["not_computable"]["auc"] == (
        "no correct samples (all 4 are incorrect); AUC needs both classes"
    )
    assert "no problem has both" in a["not_computable"]["problems"]
    assert a["skipped"] == ["1 sample(s) of 'HumanEval/999' skipped: not a humaneval problem"]
    assert a["overall"]["incorrect"]["count"] == 4 and a["overall"]["correct"]["count"] == 0
    only_correct = bleu_analysis([r for r in _rows() if r["passed"]])
    assert only_correct["not_computable"]["auc"].startswith("no incorrect samples (all 2")


def test_whole_program_solutions_compare_with_prompt_plus_canonical() -> None:
    p = get_benchmark("humaneval").problems["HumanEval/2"]
    rows = [{"task_id": p.task_id, "solution": p.prompt + p.canonical_solution, "passed": True}]
    assert bleu_analysis(rows)["per_sample"][0]["bleu"] == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"task_id": "HumanEval/0", "completion": "x"}, "no boolean 'passed'"),
        ({"task_id": "HumanEval/0", "passed": True}, "no 'completion' or 'solution' string"),
        ({"completion": "x", "passed": True}, "no 'task_id'"),
    ],
)
def test_bad_rows_name_the_line(tmp_path: Path, row: dict[str, Any], message: str) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(InputError) as e:
        bleu_analysis(path)
    assert str(e.value).startswith(f"{path}:1: {message}")


def _cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="passk")
    bleu_command.register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_cli_writes_bleu_json_into_the_run_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    (tmp_path / "results.summary.json").write_text(json.dumps({"benchmark": "humaneval"}))
    assert _cli(["bleu", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "humaneval: 6 samples" in out
    assert "overall 1.000, mean over 2 problems 1.000" in out
    assert f"bleu: {tmp_path / 'bleu.json'}" in out
    written = json.loads((tmp_path / "bleu.json").read_text())
    assert written["auc"]["overall"] == 1.0 and len(written["per_sample"]) == 6


def test_cli_json_flag_and_missing_file(tmp_path: Path) -> None:
    results = tmp_path / "r.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in _rows()))
    assert _cli(["bleu", str(results), "--json", str(tmp_path / "o.json")]) == 0
    assert (tmp_path / "o.json").exists()
    with pytest.raises(InputError, match="no such file"):
        _cli(["bleu", str(tmp_path / "missing.jsonl")])
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(InputError, match="no results"):
        _cli(["bleu", str(tmp_path / "empty.jsonl")])
