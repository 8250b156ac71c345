"""Tests for the `passk` command line, run in-process through `passk.cli.main`.

Bad input must end the run with one exact `passk: error: ...` line on stderr, a non-zero exit
status and no results or summary file; good runs must print the pass@k table and write the
results (input order, sample fields kept) and the summary.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from passk.benchmarks import get_benchmark
from passk.cli import main

# `passk evaluate` announces its execution settings on stderr before it starts (a line of its
# own, not an error); the error checks below look at every other line.
SETTINGS_PREFIX = "execution: "
TASKS = ("HumanEval/0", "HumanEval/1", "HumanEval/2")
FAILING_COMPLETION = "    return None\n"


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # PASSK_DEBUG=1 turns errors into tracebacks; these tests check the user-facing lines.
    monkeypatch.delenv("PASSK_DEBUG", raising=False)
    yield


@pytest.fixture(scope="module")
def humaneval() -> Any:
    return get_benchmark("humaneval")


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def tree(root: Path) -> set[str]:
    """Every file and folder under root (hidden ones included), relative to root."""
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if not line.startswith(SETTINGS_PREFIX)]


def two_per_task(humaneval: Any) -> list[dict[str, Any]]:
    """Canonical then failing completion for each of TASKS, with fields the model wrote."""
    rows = []
    for task in TASKS:
        canonical = humaneval.problem(task).canonical_solution
        rows.append(
            {"task_id": task, "completion": canonical, "mean_logp": -0.25, "temperature": 0.8}
        )
        rows.append(
            {
                "task_id": task,
                "completion": FAILING_COMPLETION,
                "mean_logp": -3.5,
                "temperature": 0.8,
            }
        )
    return rows


@dataclass
class Run:
    code: int
    out: str
    err: str
    samples: Path
    results: Path
    summary: Path

    def row(self, metric: str) -> list[str]:
        """The cells of the pass@k table's row for `metric`, split on whitespace."""
        rows = [line.split() for line in self.out.splitlines() if line.split()[:1] == [metric]]
        assert len(rows) == 1, self.out
        return rows[0]


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """main(argv) with stdout and stderr captured and a wide terminal (no wrapped lines)."""
    out, err = io.StringIO(), io.StringIO()
    with (
        pytest.MonkeyPatch.context() as mp,
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        mp.setenv("COLUMNS", "1000")
        mp.delenv("PASSK_DEBUG", raising=False)
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def evaluate_cli(samples: Path, *extra: str) -> Run:
    code, out, err = run_main(["evaluate", str(samples), *extra, "--no-progress"])
    results = samples.with_name(samples.name + "_results.jsonl")
    return Run(code, out, err, samples, results, results.with_name(results.stem + ".summary.json"))


# --------------------------------------------------------------------------- bad input

BAD_SAMPLES = {
    "malformed-json-line-3": (
        b'{"task_id": "HumanEval/0", "completion": "    pass\\n"}\n\n{"task_id": oops}\n',
        "{path}:3: malformed JSON: Expecting value (column 13)",
    ),
    "json-array": (b"[1, 2]\n", "{path}:1: expected a JSON object, got list"),
    "missing-task-id": (
        b'{"completion": "    pass\\n"}\n',
        "{path}:1: missing or non-string 'task_id'",
    ),
    "missing-completion": (
        b'{"task_id": "HumanEval/0"}\n',
        "{path}:1: needs a 'completion' (or a whole-program 'solution')",
    ),
    "completion-and-solution": (
        b'{"task_id": "HumanEval/0", "completion": "x", "solution": "y"}\n',
        "{path}:1: has both 'completion' and 'solution'; keep one",
    ),
    "non-string-completion": (
        b'{"task_id": "HumanEval/0", "completion": 5}\n',
        "{path}:1: 'completion' must be a string, got int",
    ),
    "unknown-task": (
        b'{"task_id": "HumanEval/0", "completion": "x"}\n'
        b'{"task_id": "HumanEval/999", "completion": "x"}\n',
        "{path}:2: task_id 'HumanEval/999' is not a humaneval problem (e.g. 'HumanEval/0')",
    ),
    "not-utf8": (
        b'{"task_id": "HumanEval/0", "completion": "x"}\n'
        b'{"task_id": "HumanEval/0", "completion": "\xff"}\n',
        "{path}:2: not UTF-8 (byte 42)",
    ),
    "empty-file": (b"", "{path}: no samples (the file is empty)"),
    "only-blank-lines": (b"\n  \n\n", "{path}: no samples (the file is empty)"),
    "duplicate-completion-id": (
        b'{"task_id": "HumanEval/0", "completion": "x", "completion_id": 0}\n'
        b'{"task_id": "HumanEval/1", "completion": "x", "completion_id": 0}\n'
        b'{"task_id": "HumanEval/0", "completion": "y", "completion_id": 0}\n',
        "{path}:3: duplicate sample 'HumanEval/0' completion_id 0 (first on line 1)",
    ),
}


def check_refused(
    tmp_path: Path, argv: list[str], expected: str, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    """main(argv) exits with `code`, says exactly `expected` and creates nothing."""
    before = tree(tmp_path)
    assert main(argv) == code
    out, err = capsys.readouterr()
    assert error_lines(err) == [f"passk: error: {expected}"]
    assert out == ""
    assert tree(tmp_path) == before


@pytest.mark.parametrize(("content", "message"), BAD_SAMPLES.values(), ids=BAD_SAMPLES.keys())
def test_bad_samples_file(
    tmp_path: Path, content: bytes, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_bytes(content)
    argv = ["evaluate", str(samples), "--workers", "1", "--no-progress"]
    check_refused(tmp_path, argv, message.format(path=samples), 2, capsys)


def test_nonexistent_samples_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = tmp_path / "nope.jsonl"
    argv = ["evaluate", str(samples), "--no-progress"]
    check_refused(tmp_path, argv, f"{samples}: no such file", 2, capsys)


def test_directory_as_samples(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.mkdir()
    argv = ["evaluate", str(samples), "--no-progress"]
    check_refused(tmp_path, argv, f"{samples}: is a directory, not a JSONL file", 2, capsys)


@pytest.fixture
def good_samples(tmp_path: Path, humaneval: Any) -> Path:
    return write_jsonl(tmp_path / "samples.jsonl", two_per_task(humaneval))


def test_out_below_a_regular_file(
    tmp_path: Path, good_samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("not a folder\n")
    out = tmp_path / "afile" / "sub" / "results.jsonl"
    argv = ["evaluate", str(good_samples), "--out", str(out), "--no-progress"]
    message = f"{out}: cannot write: {tmp_path / 'afile'} is not a directory"
    check_refused(tmp_path, argv, message, 1, capsys)


def test_out_whose_parent_is_a_regular_file(
    tmp_path: Path, good_samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("not a folder\n")
    out = tmp_path / "afile" / "results.jsonl"
    before = tree(tmp_path)
    assert main(["evaluate", str(good_samples), "--out", str(out), "--no-progress"]) == 1
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith(f"passk: error: {out}: cannot write: ")
    assert tree(tmp_path) == before


def test_out_whose_parent_is_a_regular_file_names_the_real_problem(
    tmp_path: Path, good_samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "afile").write_text("not a folder\n")
    out = tmp_path / "afile" / "results.jsonl"
    assert main(["evaluate", str(good_samples), "--out", str(out), "--no-progress"]) == 1
    assert "File exists" not in capsys.readouterr().err


def test_directory_as_out(
    tmp_path: Path, good_samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results.jsonl"
    out.mkdir()
    argv = ["evaluate", str(good_samples), "--out", str(out), "--no-progress"]
    check_refused(tmp_path, argv, f"{out}: is a directory", 1, capsys)


def test_directory_in_the_way_of_the_summary(
    tmp_path: Path, good_samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    summary = tmp_path / "samples.jsonl_results.summary.json"
    summary.mkdir()
    argv = ["evaluate", str(good_samples), "--workers", "1", "--no-progress"]
    check_refused(tmp_path, argv, f"{summary}: is a directory", 1, capsys)


def test_unknown_benchmark(
    tmp_path: Path, good_samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", str(good_samples), "--benchmark", "nope", "--no-progress"]
    message = (
        "unknown benchmark 'nope'; available: chained, crypto, humaneval, "
        "humaneval-misaligned:buggy, humaneval-misaligned:buggy+instruction, "
        "humaneval-misaligned:correct, humaneval-plus, doctests:PATH, humaneval-jsonl:PATH, "
        "mbpp:PATH[:SPLIT], apps:PATH[:DIFFICULTY][:1shot], chained:LENGTHS[:N[:SEED]]"
    )
    check_refused(tmp_path, argv, message, 2, capsys)


def test_wall_timeout_below_timeout(
    tmp_path: Path, good_samples: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["evaluate", str(good_samples), "--timeout", "3", "--wall-timeout", "1"]
    check_refused(tmp_path, argv, "--wall-timeout must be at least --timeout", 2, capsys)


def test_bad_input_stderr_is_only_the_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = tmp_path / "samples.jsonl"
    samples.write_bytes(b"[1, 2]\n")
    assert main(["evaluate", str(samples), "--workers", "1", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"passk: error: {samples}:1: expected a JSON object, got list"]


ARGPARSE_ERRORS = {
    "k-zero": (["--k", "0"], "argument --k: expected positive integers, got '0'"),
    "k-letter": (["--k", "a"], "argument --k: expected comma-separated integers, got 'a'"),
    "k-empty": (["--k", ""], "argument --k: expected positive integers, got ''"),
    "timeout-zero": (["--timeout", "0"], "argument --timeout: expected a positive number, got '0'"),
    "timeout-negative": (
        ["--timeout", "-1"],
        "argument --timeout: expected a positive number, got '-1'",
    ),
    "timeout-word": (["--timeout", "x"], "argument --timeout: expected a number, got 'x'"),
    "workers-zero": (["--workers", "0"], "argument --workers: expected at least 1, got 0"),
}


@pytest.mark.parametrize(("flags", "message"), ARGPARSE_ERRORS.values(), ids=ARGPARSE_ERRORS.keys())
def test_bad_flag_values(
    tmp_path: Path,
    good_samples: Path,
    flags: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    before = tree(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", str(good_samples), *flags, "--no-progress"])
    assert exit_info.value.code == 2
    out, err = capsys.readouterr()
    last = err.splitlines()[-1]
    assert last.startswith("passk evaluate: error:")
    assert last == f"passk evaluate: error: {message}"
    assert out == ""
    assert tree(tmp_path) == before


# --------------------------------------------------------------------------- good runs


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory, humaneval: Any) -> Run:
    """3 HumanEval problems x 2 samples (canonical, failing), no completion_ids given."""
    folder = tmp_path_factory.mktemp("good")
    samples = write_jsonl(folder / "samples.jsonl", two_per_task(humaneval))
    return evaluate_cli(samples, "--k", "1,2", "--workers", "1")


def test_good_run_exits_zero_and_prints_the_table(good_run: Run) -> None:
    assert good_run.code == 0, good_run.err
    lines = good_run.out.splitlines()
    assert lines[0] == "humaneval: 3 of 164 problems, 6 samples (2 per problem)"
    assert good_run.row("pass@1")[:2] == ["pass@1", "50.00"]
    assert good_run.row("pass@2")[:2] == ["pass@2", "100.00"]
    assert "outcomes: passed 3, failed 3" in lines
    assert "errors: AssertionError 3" in lines
    assert f"results: {good_run.results}" in lines
    assert f"summary: {good_run.summary}" in lines
    assert not [line for line in good_run.err.splitlines() if line.startswith("passk")]


def test_good_run_writes_results_in_input_order(good_run: Run) -> None:
    samples = read_jsonl(good_run.samples)
    results = read_jsonl(good_run.results)
    assert [(r["task_id"], r["completion"]) for r in results] == [
        (s["task_id"], s["completion"]) for s in samples
    ]
    # completion_id is assigned per task in input order when the samples have none.
    assert [(r["task_id"], r["completion_id"]) for r in results] == [
        (task, i) for task in TASKS for i in range(2)
    ]
    assert [r["passed"] for r in results] == [True, False] * 3
    assert [r["result"] for r in results] == ["passed", "failed: AssertionError"] * 3
    for sample, result in zip(samples, results, strict=True):
        assert {"task_id", "completion_id", "passed", "result", "duration_s", "cpu_s"} <= set(
            result
        )
        assert result["mean_logp"] == sample["mean_logp"]
        assert result["temperature"] == sample["temperature"]
        assert isinstance(result["duration_s"], float) and result["duration_s"] >= 0
        assert isinstance(result["cpu_s"], float) and result["cpu_s"] >= 0


def test_good_run_writes_the_summary(good_run: Run) -> None:
    summary = json.loads(good_run.summary.read_text(encoding="utf-8"))
    for key in (
        "pass_at_k",
        "confidence_intervals",
        "problems",
        "benchmark_problems",
        "samples",
        "outcomes",
        "errors",
        "per_problem",
        "settings",
        "samples_sha256",
    ):
        assert key in summary, key
    assert summary["pass_at_k"] == {"pass@1": 0.5, "pass@2": 1.0}
    assert summary["confidence_intervals"] == {"pass@1": [0.5, 0.5], "pass@2": [1.0, 1.0]}
    assert summary["problems"] == 3
    assert summary["benchmark_problems"] == 164
    assert summary["samples"] == 6
    assert summary["outcomes"] == {"passed": 3, "failed": 3}
    assert summary["errors"] == {"AssertionError": 3}
    assert summary["per_problem"] == {task: {"n": 2, "passed": 1} for task in TASKS}
    assert summary["samples_sha256"] == hashlib.sha256(good_run.samples.read_bytes()).hexdigest()
    bench = get_benchmark("humaneval")
    assert summary["settings"]["benchmark"]["sha256"] == bench.sha256
    assert summary["settings"]["benchmark"]["problems"] == 164


def test_good_run_leaves_only_its_outputs(good_run: Run) -> None:
    assert tree(good_run.samples.parent) == {
        "samples.jsonl",
        "samples.jsonl_results.jsonl",
        "samples.jsonl_results.summary.json",
    }


def test_k_larger_than_samples_per_problem_is_not_computable(
    tmp_path: Path, good_samples: Path
) -> None:
    run = evaluate_cli(good_samples, "--k", "1,3", "--workers", "1")
    assert run.code == 0, run.err
    reason = "k=3 exceeds the smallest number of samples per problem (2)"
    assert run.row("pass@3")[:2] == ["pass@3", "-"]
    assert reason in next(
        line for line in run.out.splitlines() if line.strip().startswith("pass@3")
    )
    summary = json.loads(run.summary.read_text(encoding="utf-8"))
    assert summary["pass_at_k"] == {"pass@1": 0.5, "pass@3": None}
    assert summary["not_computable"] == {"pass@3": reason}
    assert "pass@3" not in summary["confidence_intervals"]


def test_out_flag_names_results_and_summary(tmp_path: Path, good_samples: Path) -> None:
    out = tmp_path / "runs" / "r1.jsonl"
    code, _, err = run_main(
        [
            "evaluate",
            str(good_samples),
            "--k",
            "1",
            "--workers",
            "1",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    assert code == 0, err
    assert len(read_jsonl(out)) == 6
    assert json.loads((tmp_path / "runs" / "r1.summary.json").read_text())["samples"] == 6
    assert not (tmp_path / "samples.jsonl_results.jsonl").exists()


def test_completion_ids_assigned_per_task_and_order_kept_with_two_workers(
    tmp_path: Path, humaneval: Any
) -> None:
    order = ["HumanEval/0", "HumanEval/1", "HumanEval/0", "HumanEval/1", "HumanEval/0"]
    rows = [
        {"task_id": t, "completion": humaneval.problem(t).canonical_solution, "i": i}
        for i, t in enumerate(order)
    ]
    run = evaluate_cli(write_jsonl(tmp_path / "samples.jsonl", rows), "--k", "1", "--workers", "2")
    assert run.code == 0, run.err
    results = read_jsonl(run.results)
    assert [r["i"] for r in results] == list(range(5))
    assert [r["completion_id"] for r in results] == [0, 0, 1, 1, 2]
    assert all(r["passed"] for r in results)


def test_solution_samples(tmp_path: Path, humaneval: Any) -> None:
    problem = humaneval.problem("HumanEval/0")
    rows = [
        {"task_id": "HumanEval/0", "solution": problem.prompt + problem.canonical_solution},
        {"task_id": "HumanEval/0", "solution": "def unrelated():\n    return 1\n"},
    ]
    run = evaluate_cli(write_jsonl(tmp_path / "samples.jsonl", rows), "--k", "1", "--workers", "1")
    assert run.code == 0, run.err
    results = read_jsonl(run.results)
    assert [r["solution"] for r in results] == [r["solution"] for r in rows]
    assert all("completion" not in r for r in results)
    assert results[0]["result"] == "passed"
    assert results[1]["passed"] is False
    assert results[1]["result"].startswith("failed: NameError")
    assert run.row("pass@1")[:2] == ["pass@1", "50.00"]


def test_canonical_solutions_all_pass(tmp_path: Path, humaneval: Any) -> None:
    rows = [
        {"task_id": p.task_id, "completion": p.canonical_solution}
        for p in humaneval.problems.values()
    ]
    run = evaluate_cli(write_jsonl(tmp_path / "samples.jsonl", rows), "--k", "1")
    assert run.code == 0, run.err
    assert run.out.splitlines()[0] == "humaneval: 164 of 164 problems, 164 samples (1 per problem)"
    assert run.row("pass@1")[:2] == ["pass@1", "100.00"]
    summary = json.loads(run.summary.read_text(encoding="utf-8"))
    assert summary["pass_at_k"] == {"pass@1": 1.0}
    assert summary["outcomes"] == {"passed": 164}


def test_paths_with_brackets_are_printed_verbatim(tmp_path: Path, humaneval: Any) -> None:
    folder = tmp_path / "run[x]"
    folder.mkdir()
    rows = [
        {
            "task_id": "HumanEval/0",
            "completion": humaneval.problem("HumanEval/0").canonical_solution,
        }
    ]
    run = evaluate_cli(write_jsonl(folder / "samples.jsonl", rows), "--k", "1", "--workers", "1")
    assert run.code == 0, run.err
    assert run.results.exists()
    assert f"results: {run.results}" in run.out.splitlines()


def test_long_result_paths_stay_on_one_line(
    tmp_path: Path,
    humaneval: Any,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = tmp_path / ("x" * 120)
    folder.mkdir()
    rows = [
        {
            "task_id": "HumanEval/0",
            "completion": humaneval.problem("HumanEval/0").canonical_solution,
        }
    ]
    samples = write_jsonl(folder / "samples.jsonl", rows)
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["evaluate", str(samples), "--k", "1", "--workers", "1", "--no-progress"]) == 0
    results = folder / "samples.jsonl_results.jsonl"
    assert f"results: {results}" in capsys.readouterr().out.splitlines()


# --------------------------------------------------------------------------- the installed command


def passk_script() -> str:
    script = Path(sys.executable).with_name("passk")
    found = str(script) if script.exists() else shutil.which("passk")
    if found is None:
        pytest.skip("the passk console script is not installed")
    return found


def test_python_m_passk_version() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "passk", "--version"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "passk 0.1.0\n"


def test_passk_help() -> None:
    proc = subprocess.run([passk_script(), "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: passk")
    assert re.search(r"^\s+evaluate\s", proc.stdout, re.MULTILINE)


def test_import_passk_stays_light() -> None:
    code = (
        "import json, sys, passk; print(json.dumps(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('numpy', 'rich') or m.startswith('passk.execution'))))"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_plain_progress_lines_when_stderr_is_not_a_terminal(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from passk.cli.output import PlainProgress

    progress = PlainProgress("sampling", interval_s=0.0)
    progress(10, 40, 500)  # the first call: what was done before (a resume) is not speed
    time.sleep(0.05)
    progress(20, 40, 1000)
    line = capsys.readouterr().err.splitlines()[-1]
    assert re.fullmatch(
        r"sampling: 20/40 \(50\.0%\), [\d,.]+ samples/s, [\d,.]+ tokens/s, ETA 0:00:\d\d", line
    ), line
    quiet = PlainProgress("evaluating")  # the default interval: nothing for a short step
    quiet(1, 2)
    quiet(2, 2)
    assert capsys.readouterr().err == ""


def test_evaluate_reports_progress_in_a_log(
    good_samples: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import passk.cli.output

    monkeypatch.setattr(passk.cli.output, "PLAIN_INTERVAL_S", 0.0)
    argv = ["evaluate", str(good_samples), "--workers", "1", "--out", str(tmp_path / "r.jsonl")]
    code, _, err = run_main(argv)
    assert code == 0, err
    assert re.search(r"^evaluating: \d+/\d+ \([\d.]+%\), ", err, re.MULTILINE), err
