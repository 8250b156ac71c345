"""Checking canonical solutions in the sandbox, for benchmarks whose problems were mined.

A benchmark only reads data; where its problems come from code (the `doctests:` benchmark,
problem files that were mined), it carries a `CanonicalCheck`, and this module runs every
canonical solution against its own test in the user's sandbox and limits, and keeps the problems
that pass (trying a problem's fallback variant when it fails). Passed and failed verdicts are
cached in $XDG_CACHE_HOME/passk/<cache>/<sha256>.json (default ~/.cache/passk), keyed by the
candidates and the sandbox and limits they ran under, so a second load of unchanged code runs
nothing; timeouts and harness errors are not cached and run again.

`load_benchmark` is what every command that samples or judges uses: `get_benchmark` plus this
check.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from passk.benchmarks import Benchmark, Problem, get_benchmark
from passk.benchmarks.problem import CanonicalCheck, problems_digest
from passk.errors import BenchmarkError, OutputError
from passk.execution import Job, WorkerPool, choose_sandbox
from passk.execution.options import ExecutionOptions
from passk.records.files import write_text_atomic

CACHE_VERSION = "1"
Verdicts = dict[str, dict[str, Any]]  # problem key -> {task_id, outcome, passed, result}


def load_benchmark(name: str, execution: ExecutionOptions | None = None) -> Benchmark:
    """The benchmark called `name`, with its canonical check done (once per process)."""
    return _load(name, execution or ExecutionOptions())


@functools.cache
def _load(name: str, execution: ExecutionOptions) -> Benchmark:
    return verify(get_benchmark(name), execution)


def verify(bench: Benchmark, execution: ExecutionOptions) -> Benchmark:
    """The benchmark of the problems whose canonical solution passes its own test."""
    check = bench.check
    if check is None:
        return bench
    candidates = list(bench.problems.values())
    cache = cache_path(check, candidates, execution)
    verdicts = _read_cache(cache)
    run = functools.partial(judge, execution=execution, preimports=bench.preimports)
    verdicts.update(run([p for p in candidates if key(p) not in verdicts]))
    retry = [
        check.fallbacks[p.task_id]
        for p in candidates
        if p.task_id in check.fallbacks and not _passed(verdicts, p)
    ]
    verdicts.update(run([p for p in retry if key(p) not in verdicts]))
    _write_cache(cache, verdicts)
    kept = [_passing(p, check, verdicts) for p in candidates]
    problems = [p for p in kept if p is not None]
    if not problems:
        example = candidates[0]
        result = verdicts.get(key(example), {}).get("result", "not judged")
        raise BenchmarkError(
            f"{check.cache}: none of the {len(candidates)} {check.what} passes its own "
            f"{check.tests} in the sandbox (e.g. {example.task_id}: {result})"
        )
    return bench.with_problems(problems)


def _passing(problem: Problem, check: CanonicalCheck, verdicts: Verdicts) -> Problem | None:
    if _passed(verdicts, problem):
        return problem
    fallback = check.fallbacks.get(problem.task_id)
    return fallback if fallback is not None and _passed(verdicts, fallback) else None


def judge(
    problems: list[Problem], *, execution: ExecutionOptions, preimports: tuple[str, ...] = ()
) -> Verdicts:
    """Run each problem's canonical solution against its test: problem key -> verdict."""
    if not problems:
        return {}
    jobs = [Job(i, p.program(p.canonical_solution)) for i, p in enumerate(problems)]
    workers = min(len(jobs), execution.worker_count)
    pool = WorkerPool(
        workers,
        limits=execution.limits,
        preimports=preimports,
        sandbox=choose_sandbox(execution.sandbox),
    )
    verdicts = {}
    with pool:
        for index, verdict in pool.run(jobs):
            verdicts[key(problems[index])] = {
                "task_id": problems[index].task_id,
                "outcome": verdict.outcome.value,
                "passed": verdict.passed,
                "result": verdict.result,
            }
    return verdicts


def _passed(verdicts: Verdicts, problem: Problem) -> bool:
    return bool(verdicts.get(key(problem), {}).get("passed"))


def key(problem: Problem) -> str:
    """The cache key of one problem: the digest of its fields."""
    return problems_digest([problem])


# --- The verdict cache ----------------------------------------------------------------------


def cache_dir(check: CanonicalCheck) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "passk" / check.cache


def cache_path(
    check: CanonicalCheck, candidates: list[Problem], execution: ExecutionOptions
) -> Path:
    problems = [*candidates, *check.fallbacks.values()]
    settings = json.dumps([execution.sandbox, repr(execution.limits)])
    digest = hashlib.sha256((problems_digest(problems) + settings).encode()).hexdigest()
    return cache_dir(check) / f"{digest}.json"


def _read_cache(path: Path) -> Verdicts:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
        return {}
    verdicts = data.get("verdicts")
    return dict(verdicts) if isinstance(verdicts, dict) else {}


def _write_cache(path: Path, verdicts: Verdicts) -> None:
    """Keep passed and failed verdicts; a timeout or a harness error may not recur."""
    final = {k: v for k, v in verdicts.items() if v.get("outcome") in ("passed", "failed")}
    data = {"version": CACHE_VERSION, "verdicts": final}
    with contextlib.suppress(OutputError):  # a cache that cannot be written costs only time
        write_text_atomic(path, json.dumps(data, indent=1, sort_keys=True) + "\n")
