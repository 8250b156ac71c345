"""`passk sweep` over a tiny model built in the test: two temperatures, four samples each."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

import passk.analysis.sweep
from passk.analysis.sweep import best_temperatures, pass_at_k_curve
from passk.cli import main
from passk.metrics import mean_pass_at_k
from tiny_model import make_tiny_model


def test_sweep_runs_each_temperature_once_and_reuses_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = make_tiny_model(tmp_path / "tiny")
    out = tmp_path / "sweep"
    argv = [
        "sweep",
        str(model),
        "--temperatures",
        "0,1",
        "--n",
        "4",
        "--max-tokens",
        "12",
        "--tasks",
        "HumanEval/0,HumanEval/1",
        "--workers",
        "1",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    summary = json.loads((out / "sweep.json").read_text())
    assert list(summary["curves"]) == ["0", "1"]
    for name, curve in summary["curves"].items():
        assert [k for k, _ in curve] == [1, 2, 3, 4]
        results = out / f"t{name}" / "results.jsonl"
        assert curve == pass_at_k_curve(results)
    assert [k for k, _ in summary["best_temperature"]] == [1, 2, 3, 4]
    assert "pass@k (%) by temperature" in capsys.readouterr().out
    samples = (out / "t1" / "samples.jsonl").read_text()
    assert main(argv) == 0  # a second sweep scores the finished runs again, samples nothing
    assert (out / "t1" / "samples.jsonl").read_text() == samples


def test_pass_at_k_curve_is_the_unbiased_estimator(tmp_path: Path) -> None:
    rows = [("A", True), ("A", False), ("A", False), ("B", True), ("B", True), ("B", False)]
    path = tmp_path / "results.jsonl"
    path.write_text("".join(json.dumps({"task_id": t, "passed": p}) + "\n" for t, p in rows))
    assert pass_at_k_curve(path) == [
        [k, pytest.approx(mean_pass_at_k([3, 3], [1, 2], k))] for k in (1, 2, 3)
    ]


def test_best_temperature_prefers_the_lower_one_on_ties() -> None:
    curves = {"0.8": [[1, 0.5], [2, 0.9]], "0.2": [[1, 0.5], [2, 0.6]]}
    assert best_temperatures(curves) == [[1, 0.2], [2, 0.8]]


def test_doctests() -> None:
    assert doctest.testmod(passk.analysis.sweep).failed == 0


def test_bad_temperatures(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sweep", "--temperatures", "0,-1", "--out", str(tmp_path)])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        "passk sweep: error: argument --temperatures: expected temperatures of 0 or more, "
        "got '0,-1'"
    )
