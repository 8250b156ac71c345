"""`passk generate` and `passk run` end to end, over a tiny model built in the test.

The model is random, so what it writes is noise; these tests check the plumbing: the samples
file's fields, per-sample seeds (same command, same samples; a resumed run ends with exactly
the file an uninterrupted run writes), the run directory of `passk run`, and bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from passk.benchmarks.humaneval import STOP_SEQUENCES
from passk.cli import main
from tiny_model import make_tiny_model

TASKS = "HumanEval/0,HumanEval/2,HumanEval/7"
FIELDS = [
    "task_id",
    "completion_id",
    "completion",
    "num_tokens",
    "sum_logp",
    "mean_logp",
    "finish_reason",
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "seed",
    "model",
]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("model") / "tiny")


def generate(model: Path, out: Path, *extra: str) -> int:
    argv = [
        "generate",
        str(model),
        "--tasks",
        TASKS,
        "--n",
        "3",
        "--max-tokens",
        "24",
        "--out",
        str(out),
        "--no-progress",
        *extra,
    ]
    return main(argv)


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_samples_file_has_the_fields_the_analyses_need(model: Path, tmp_path: Path) -> None:
    out = tmp_path / "samples.jsonl"
    assert generate(model, out, "--temperature", "0.8", "--seed", "7") == 0
    samples = rows(out)
    assert [(r["task_id"], r["completion_id"]) for r in samples] == [
        (t, i) for t in TASKS.split(",") for i in range(3)
    ]
    for r in samples:
        assert list(r) == FIELDS
        assert r["temperature"] == 0.8 and r["top_p"] == 0.95 and r["seed"] == 7
        assert r["model"] == "tiny" and r["finish_reason"] in ("stop", "length")
        assert not any(stop in r["completion"] for stop in STOP_SEQUENCES)
        assert 0 <= r["num_tokens"] <= 24
        if r["num_tokens"]:
            assert r["mean_logp"] == pytest.approx(r["sum_logp"] / r["num_tokens"])
    assert not (tmp_path / "samples.jsonl.partial").exists()


def test_same_seed_same_samples_other_seed_others(model: Path, tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    assert generate(model, a, "--temperature", "1.0", "--seed", "1") == 0
    assert generate(model, b, "--temperature", "1.0", "--seed", "1") == 0
    assert generate(model, c, "--temperature", "1.0", "--seed", "2") == 0
    assert a.read_text() == b.read_text()
    assert [r["completion"] for r in rows(a)] != [r["completion"] for r in rows(c)]


def test_resume_ends_with_the_file_an_uninterrupted_run_writes(model: Path, tmp_path: Path) -> None:
    whole = tmp_path / "whole.jsonl"
    assert generate(model, whole, "--temperature", "1.0") == 0
    # A run killed after four samples leaves its journal: the header, four rows, a torn line.
    out = tmp_path / "resumed.jsonl"
    header = {"passk_journal": _journal_header(model, tmp_path)}
    kept = rows(whole)[2:6]
    journal = [json.dumps(header)] + [json.dumps(r) for r in kept] + ['{"task_id": "Hum']
    (tmp_path / "resumed.jsonl.partial").write_text("\n".join(journal))
    assert generate(model, out, "--temperature", "1.0", "--resume") == 0
    resumed, expected = rows(out), rows(whole)
    assert resumed[2:6] == kept  # journalled samples are kept as they are, not drawn again
    # Drawn in other batches, the rest match to the text; log-probabilities to rounding.
    for got, want in zip(resumed, expected, strict=True):
        assert {**got, "sum_logp": 0, "mean_logp": 0} == {**want, "sum_logp": 0, "mean_logp": 0}
        assert got["sum_logp"] == pytest.approx(want["sum_logp"], abs=1e-3)
    assert not (tmp_path / "resumed.jsonl.partial").exists()


def _journal_header(model: Path, tmp_path: Path) -> dict[str, Any]:
    """The header a run with these settings writes: taken from a run stopped at once."""
    probe = tmp_path / "probe.jsonl"
    assert generate(model, probe, "--temperature", "1.0", "--tasks", "HumanEval/0", "--n", "1") == 0
    from passk.benchmarks import get_benchmark
    from passk.generation.generate import _settings
    from passk.generation.types import SamplingParams

    class Named:
        model_id = "tiny"

    params = SamplingParams(temperature=1.0, max_tokens=24, stop=STOP_SEQUENCES)
    return json.loads(json.dumps(_settings(get_benchmark("humaneval"), Named(), params, 0)))  # type: ignore[arg-type]


def test_resume_refuses_a_journal_with_other_settings(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "s.jsonl"
    header = {"passk_journal": _journal_header(model, tmp_path)}
    journal = tmp_path / "s.jsonl.partial"
    journal.write_text(json.dumps(header) + "\n")
    assert generate(model, out, "--temperature", "0.2", "--resume") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"passk: error: {journal}: made with other settings (model, sampling parameters, seed "
        "or benchmark); run without --resume to start over"
    ]
    assert not out.exists()


def test_run_writes_a_run_directory(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = tmp_path / "run"
    argv = [
        "run",
        str(model),
        "--tasks",
        TASKS,
        "--n",
        "2",
        "--max-tokens",
        "16",
        "--out",
        str(run_dir),
        "--no-progress",
        "--workers",
        "1",
    ]
    assert main(argv) == 0
    names = sorted(p.name for p in run_dir.iterdir())
    assert names == ["config.json", "results.jsonl", "results.summary.json", "samples.jsonl"]
    summary = json.loads((run_dir / "results.summary.json").read_text())
    assert summary["samples"] == 6 and summary["problems"] == 3
    assert list(summary["pass_at_k"]) == ["pass@1"]  # k above n is left out by `run`
    config = json.loads((run_dir / "config.json").read_text())
    assert config["n"] == 2 and config["model"] == str(model)
    out = capsys.readouterr().out
    assert "humaneval: 3 of 164 problems, 6 samples (2 per problem)" in out
    # Resuming a finished run re-scores it without sampling again.
    before = (run_dir / "samples.jsonl").read_text()
    assert main([*argv, "--resume"]) == 0
    assert (run_dir / "samples.jsonl").read_text() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--top-p", "0"], "--top-p must be in (0, 1], got 0.0"),
        (["--top-p", "1.5"], "--top-p must be in (0, 1], got 1.5"),
        (["--top-k", "-1"], "--top-k must be 0 (off) or more, got -1"),
        (
            ["--tasks", "HumanEval/999"],
            "--tasks: task_id 'HumanEval/999' is not a humaneval problem (e.g. 'HumanEval/0')",
        ),
    ],
)
def test_bad_sampling_input(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "s.jsonl"
    argv = [
        "generate",
        str(model),
        "--out",
        str(out),
        "--no-progress",
        "--tasks",
        "HumanEval/0",
        *args,
    ]
    assert main(argv) == 2
    assert capsys.readouterr().err.strip().splitlines() == [f"passk: error: {message}"]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "fragment"), [(["--n", "0"], "--n"), (["--temperature", "-1"], "--temperature")]
)
def test_bad_numbers_are_refused_by_the_parser(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], fragment: str
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["generate", str(model), "--out", str(tmp_path / "s.jsonl"), *args])
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith(f"passk generate: error: argument {fragment}")


def test_missing_model_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nope"
    assert (
        main(["generate", str(missing), "--out", str(tmp_path / "s.jsonl"), "--no-progress"]) == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"passk: error: model directory {missing} does not exist"]


def test_run_without_a_default_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASSK_DEFAULT_MODEL", str(tmp_path / "absent"))
    assert main(["run", "--out", str(tmp_path / "run"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"passk: error: no MODEL given and the default model is not at {tmp_path / 'absent'}; "
        "give a model directory or openai:URL"
    ]
