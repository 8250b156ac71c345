"""Tests for calibrated time limits, `--timeout auto` (passk.canonical.calibrate).

Each problem's CPU limit comes from its canonical solution's CPU time measured in the sandbox:
the tests check that the canonical solutions and deliberately slower but correct solutions
pass under the calibrated limits, that a sample that never ends is stopped at its problem's
limit (not the fixed 3 s), that the measurements are cached and read back, that problems
without a passing canonical solution keep the fixed limit, and the CLI's handling of the
option. Every run is real: a worker pool in this machine's sandbox, a private cache directory.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from passk.benchmarks import Benchmark, Problem, get_benchmark
from passk.canonical import FACTOR, FLOOR_S, calibrate, limit_for
from passk.cli import main
from passk.evaluation import evaluate
from passk.execution import Limits
from passk.execution.options import ExecutionOptions
from passk.records import read_jsonl

# Correct solutions slower than the canonical ones, for the problems whose tests are the
# heaviest (HumanEval/75's canonical solution is the slowest, 0.15 s of CPU a sample here).
SLOWER = {
    # every triple of numbers below 101 tried; primality checked only for a hit
    "HumanEval/75": """    def is_prime(n):
        return all(n % d for d in range(2, n))

    for i in range(2, 101):
        for j in range(2, 101):
            for k in range(2, 101):
                if i * j * k == a and is_prime(i) and is_prime(j) and is_prime(k):
                    return True
    return False
""",
    # the triple loop over index triples, each value recomputed by a call
    "HumanEval/147": """    def value(i):
        return i * i - i + 1

    count = 0
    for i in range(1, n + 1):
        for j in range(i + 1, n + 1):
            for k in range(j + 1, n + 1):
                if (value(i) + value(j) + value(k)) % 3 == 0:
                    count += 1
    return count
""",
    # every digit of every number below n looked at, divisibility tested per digit
    "HumanEval/36": """    count = 0
    for i in range(n):
        for digit in str(i):
            if (i % 11 == 0 or i % 13 == 0) and digit == "7":
                count += 1
    return count
""",
    # each divisor's primality from the full list of remainders (no early exit)
    "HumanEval/59": """    largest = 1
    for j in range(2, n + 1):
        if n % j == 0 and all([j % d for d in range(2, j)]):
            largest = j
    return largest
""",
    # quadratic (list.count per element) where the canonical solution is linear
    "HumanEval/26": """    return [x for x in numbers if numbers.count(x) == 1]
""",
}
NEVER_ENDS = "    while True:\n        pass\n"
TASKS = [*SLOWER, "HumanEval/0"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    return cache


def few(humaneval: Benchmark, tasks: list[str]) -> Benchmark:
    return humaneval.with_problems([humaneval.problems[t] for t in tasks])


def test_limit_rule() -> None:
    assert limit_for(0.0) == FLOOR_S == 1.0
    assert limit_for(0.05) == 1.0
    assert limit_for(0.154) == pytest.approx(1.54)
    assert limit_for(0.1541) == pytest.approx(1.55)  # rounded up to 10 ms
    assert limit_for(2.0) == pytest.approx(FACTOR * 2.0)


def test_calibration_measures_caches_and_reads_back(
    humaneval: Benchmark, private_cache: Path
) -> None:
    bench = few(humaneval, TASKS)
    execution = ExecutionOptions(workers=2)
    limits = calibrate(bench, execution)
    assert sorted(limits.per_problem) == sorted(TASKS) and not limits.fixed
    for task, cpu in limits.measured.items():
        assert 0 < cpu < 1.0, (task, cpu)
        assert limits.per_problem[task] == limit_for(cpu)
    files = list((private_cache / "passk" / "calibration").glob("*.json"))
    assert len(files) == 1
    # A second calibration runs nothing: it reads the cache (changed here to tell it apart).
    data = json.loads(files[0].read_text())
    data["cpu_s"] = {k: 0.5 for k in data["cpu_s"]}
    files[0].write_text(json.dumps(data))
    again = calibrate(bench, execution)
    assert set(again.per_problem.values()) == {limit_for(0.5)} == {5.0}
    assert again.describe()["per_problem"] == dict.fromkeys(sorted(TASKS), 5.0)


def test_problems_without_a_passing_canonical_solution_keep_the_fixed_limit(
    humaneval: Benchmark,
) -> None:
    good = humaneval.problems["HumanEval/0"]
    none = Problem("x/none", good.prompt, good.entry_point, "", good.test)
    wrong = Problem("x/wrong", good.prompt, good.entry_point, "    return None\n", good.test)
    bench = humaneval.with_problems([good, none, wrong])
    limits = calibrate(bench, ExecutionOptions(Limits(timeout=2.5), workers=1))
    assert list(limits.per_problem) == ["HumanEval/0"]
    assert limits.fixed["x/none"] == "no canonical solution"
    assert limits.fixed["x/wrong"].startswith("its canonical solution: failed: AssertionError")
    assert limits.timeout("x/wrong") == limits.timeout("x/none") == 2.5
    assert "2 keep 2.5 s" in limits.span()


def write_samples(path: Path, humaneval: Benchmark) -> Path:
    rows = [{"task_id": t, "completion": code} for t, code in SLOWER.items()]
    rows += [{"task_id": t, "completion": humaneval.problems[t].canonical_solution} for t in TASKS]
    rows.append({"task_id": "HumanEval/0", "completion": NEVER_ENDS})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_auto_limits_pass_slower_correct_solutions_and_stop_endless_ones_sooner(
    tmp_path: Path, humaneval: Benchmark
) -> None:
    samples = write_samples(tmp_path / "samples.jsonl", humaneval)
    # A generous wall limit, so that the endless sample meets its CPU limit on a loaded machine.
    execution = ExecutionOptions(Limits(wall_timeout=30.0), workers=2, timeout_auto=True)
    lines: list[str] = []
    result = evaluate(samples, k=[1], execution=execution, on_start=lines.append)
    rows = [row for _, row in read_jsonl(result.results_path)]
    assert [r["passed"] for r in rows] == [True] * (len(SLOWER) + len(TASKS)) + [False]
    endless = rows[-1]
    assert endless["result"] == "timed out"
    time_limits = result.summary["time_limits"]
    limit = time_limits["per_problem"]["HumanEval/0"]
    assert limit == 1.0 < 3.0
    # Stopped at its own limit, not the fixed one (RLIMIT_CPU counts the process's CPU time by
    # the scheduler's ticks and the cgroup precisely: they differ by some hundredths).
    assert 0.5 * limit < endless["cpu_s"] < 2.0
    assert time_limits["floor_s"] == FLOOR_S and time_limits["factor"] == FACTOR
    assert sorted(time_limits["per_problem"]) == sorted(get_benchmark("humaneval").problems)
    assert any(
        line.startswith("calibrated CPU limits (--timeout auto): 164 problems") for line in lines
    )
    # The journal's settings hold the limits: a resumed run under the same calibration goes on.
    again = evaluate(samples, k=[1], execution=execution, resume=True)
    assert again.summary["pass_at_k"] == result.summary["pass_at_k"]


def test_cli_timeout_auto(
    tmp_path: Path, humaneval: Benchmark, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = tmp_path / "samples.jsonl"
    rows = [{"task_id": "HumanEval/0", "completion": NEVER_ENDS}]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
    argv = ["evaluate", str(samples), "--timeout", "auto", "--k", "1", "--no-progress"]
    assert main(argv) == 0
    summary = json.loads((tmp_path / "samples.jsonl_results.summary.json").read_text())
    assert summary["time_limits"]["per_problem"]["HumanEval/0"] == 1.0
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        main(["mine", str(tmp_path), "--out", str(tmp_path / "m.jsonl"), "--timeout", "auto"])
    assert info.value.code == 2
    assert "--timeout: expected a number, got 'auto'" in capsys.readouterr().err
