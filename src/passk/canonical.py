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

`calibrate` gives `--timeout auto` its per-problem CPU limits: each canonical solution runs
RUNS times in the user's sandbox and verdict mode, and its problem's limit is
max(FLOOR_S, FACTOR x the most CPU time it took), as EvalPlus sets its limits from the ground
truth's time (Liu et al. 2023), but in CPU seconds, which the machine's load does not change.
The measurements are cached beside the verdicts ($XDG_CACHE_HOME/passk/calibration/), keyed by
the problems, the sandbox, the verdict mode and the machine's processor.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
import os
import platform
from dataclasses import dataclass
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
    return _cache_root() / check.cache


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "passk"


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


# --- The job of one problem and one piece of code ---------------------------------------------


def problem_job(
    index: int,
    problem: Problem,
    code: str,
    mode: str,
    *,
    is_solution: bool = False,
    plain_data: bool = True,
    timeout: float | None = None,
) -> Job:
    """The job that judges `code` (a completion of the prompt, or with `is_solution` a whole
    solution) in the given verdict mode: the code, and the problem's test and entry point (io
    mode: the test runs in a trusted judge; assert mode: in the sample's process, calling a
    candidate that must return plain data). A benchmark whose tests do not compare plain data
    (`Benchmark.plain_data`) gets the official program whole. `timeout`: the problem's own CPU
    limit (`--timeout auto`), None for the pool's. A problem judged on standard input and
    output gets a stdio job in either mode: its program never sees the expected outputs, so io
    mode has nothing more to keep from it."""
    if problem.cases:
        program = problem.solution(code, is_solution=is_solution)
        return Job(index, program, mode="stdio", cases=problem.cases, timeout=timeout)
    if mode == "assert" and not plain_data:
        return Job(index, problem.program(code, is_solution=is_solution), timeout=timeout)
    return Job(
        index,
        problem.solution(code, is_solution=is_solution),
        mode=mode,
        prompt=problem.prompt if mode == "io" else "",
        test=problem.test,
        entry_point=problem.entry_point,
        timeout=timeout,
    )


# --- Calibrated time limits: --timeout auto ---------------------------------------------------

# A problem's CPU limit is max(FLOOR_S, FACTOR x its canonical solution's CPU time), the most of
# RUNS runs. On this project's VM HumanEval's canonical solutions take 2-25 ms of CPU a sample
# in the sandbox (HumanEval/75's triple loop 0.15 s) and repeat within 1.5x of themselves; the
# floor covers fork and start-up costs and correct solutions that are slower by a large constant
# factor, and the factor covers slower algorithms on the problems whose tests are heavy (see
# the README's "Calibrated time limits" for the slower-but-correct solutions this was checked
# with).
FLOOR_S = 1.0
FACTOR = 10.0
RUNS = 3
CALIBRATION_VERSION = "1"


@dataclass(frozen=True)
class TimeLimits:
    """Per-problem CPU limits for `--timeout auto`: `per_problem` (task_id -> CPU seconds)
    where the canonical solution passed every run, its CPU time in `measured`; `fixed` (task_id
    -> why) for problems that keep `--timeout`'s fixed limit."""

    per_problem: dict[str, float]
    measured: dict[str, float]
    fixed: dict[str, str]
    fallback_s: float

    def timeout(self, task_id: str) -> float:
        return self.per_problem.get(task_id, self.fallback_s)

    def describe(self) -> dict[str, Any]:
        """What the summary and the journal record: the rule, and every problem's limit."""
        return {
            "mode": "auto",
            "floor_s": FLOOR_S,
            "factor": FACTOR,
            "runs": RUNS,
            "fallback_s": self.fallback_s,
            "per_problem": dict(sorted(self.per_problem.items())),
            "canonical_cpu_s": dict(sorted(self.measured.items())),
            "fixed": dict(sorted(self.fixed.items())),
        }

    def span(self) -> str:
        """One line for the start of a run: the range of the limits, and how many are fixed."""
        values = sorted(self.per_problem.values())
        text = f"calibrated CPU limits (--timeout auto): {len(values)} problems"
        if values:
            text += f", {values[0]:g}-{values[-1]:g} s"
        if self.fixed:
            text += (
                f"; {len(self.fixed)} keep {self.fallback_s:g} s (no passing canonical solution)"
            )
        return text


def limit_for(cpu_s: float) -> float:
    """The CPU limit of a problem whose canonical solution took `cpu_s` (rounded up to 10 ms).

    >>> limit_for(0.004), limit_for(0.154)
    (1.0, 1.54)
    """
    return max(FLOOR_S, math.ceil(round(FACTOR * cpu_s * 100, 6)) / 100)


def calibrate(bench: Benchmark, execution: ExecutionOptions) -> TimeLimits:
    """Every problem's CPU limit from its canonical solution, measured (or read from the cache)
    in the sandbox and verdict mode of `execution`, under its fixed limits."""
    measurable = [p for p in bench.problems.values() if p.canonical_solution.strip()]
    cache = _calibration_path(bench, execution)
    measured = _read_measurements(cache)
    todo = [p for p in measurable if key(p) not in measured]
    failures = _measure(todo, bench, execution, measured) if todo else {}
    with contextlib.suppress(OutputError):
        data = {"version": CALIBRATION_VERSION, "cpu_s": measured}
        write_text_atomic(cache, json.dumps(data, indent=1, sort_keys=True) + "\n")
    per_problem, cpu, fixed = {}, {}, {}
    for problem in bench.problems.values():
        if key(problem) in measured:
            cpu[problem.task_id] = measured[key(problem)]
            per_problem[problem.task_id] = limit_for(measured[key(problem)])
        elif problem.canonical_solution.strip():
            fixed[problem.task_id] = f"its canonical solution: {failures.get(key(problem), '?')}"
        else:
            fixed[problem.task_id] = "no canonical solution"
    return TimeLimits(per_problem, cpu, fixed, execution.limits.timeout)


def _measure(
    problems: list[Problem],
    bench: Benchmark,
    execution: ExecutionOptions,
    measured: dict[str, float],
) -> dict[str, str]:
    """Run each canonical solution RUNS times; add the most CPU time of those that passed
    every run to `measured`; return the first failing result of the others."""
    jobs = [
        problem_job(
            run * len(problems) + i,
            problem,
            problem.canonical_solution,
            execution.mode,
            plain_data=bench.plain_data,
        )
        for run in range(RUNS)
        for i, problem in enumerate(problems)
    ]
    pool = WorkerPool(
        min(len(jobs), execution.worker_count),
        limits=execution.limits,
        preimports=bench.preimports,
        sandbox=choose_sandbox(execution.sandbox, use_cgroups=execution.cgroups),
    )
    most: dict[str, float] = {}
    failures: dict[str, str] = {}
    with pool:
        for index, verdict in pool.run(jobs):
            name = key(problems[index % len(problems)])
            if not verdict.passed:
                failures.setdefault(name, verdict.result)
            most[name] = max(most.get(name, 0.0), verdict.cpu_s)
    measured.update({name: cpu for name, cpu in most.items() if name not in failures})
    return failures


def _calibration_path(bench: Benchmark, execution: ExecutionOptions) -> Path:
    sandbox = choose_sandbox(execution.sandbox, use_cgroups=execution.cgroups)
    settings = [
        CALIBRATION_VERSION,
        RUNS,
        execution.mode,
        sandbox.describe(),
        bench.plain_data,
        platform.machine(),
        _processor(),
        os.cpu_count(),
    ]
    text = problems_digest(list(bench.problems.values())) + json.dumps(settings)
    return _cache_root() / "calibration" / f"{hashlib.sha256(text.encode()).hexdigest()}.json"


def _processor() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), for the calibration's key."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor()


def _read_measurements(path: Path) -> dict[str, float]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("version") != CALIBRATION_VERSION:
        return {}
    cpu = data.get("cpu_s")
    if not isinstance(cpu, dict):
        return {}
    return {k: float(v) for k, v in cpu.items() if isinstance(v, int | float) and v >= 0}
