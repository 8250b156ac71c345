"""Make HumanEval+ here, and measure what its new tests catch.

    python scripts/humaneval_plus.py generate             # writes the data file (4-12 min, 2 cores)
    python scripts/humaneval_plus.py mutants              # canonical-solution mutants, both benchmarks
    python scripts/humaneval_plus.py compare SAMPLES      # a samples file, both benchmarks

`generate` makes src/passk/benchmarks/data/humaneval_plus.jsonl.gz (and rewrites DATA_SHA256 in
src/passk/benchmarks/humaneval_plus.py), after Liu et al. 2023 (EvalPlus, section 2):

1. Seeds. Each problem's `check` runs in the sandbox against its canonical solution (the fixed
   one where data/humaneval_fixes.json has one), with the global `random` seeded, and records
   every call's arguments: the inputs HumanEval itself uses.
2. Candidates (humaneval_plus_mutation.py). Each type's boundary values put in place of each
   argument of the first seeds; the numbers the docstring names (and their neighbours) in
   place of a number argument; then type-aware mutations of seeds and of kept candidates (half
   the time from a seed), until 400 distinct inputs pass the problem's precondition
   (humaneval_plus_contracts.py) or 8000 attempts are spent. The random generator is seeded by
   the task id.
3. Expected outputs. The canonical solution runs on every candidate in the sandbox, twice, in
   two worker pools (so with two hash seeds): first untraced, under a CPU timer, then (on what
   it answered) traced, counting the Python call and line events it runs: a deterministic
   stand-in for time, so that the same command selects the same tests on any machine. A
   candidate is kept only if both runs return equal plain-data answers within the caps (Caps),
   an answer of at most MAX_OUTPUT_CHARS as a literal, no inf or nan, and, for HumanEval/32,
   /38 and /50, the property the original test checks (a root of the polynomial; an answer
   that the prompt's encoder maps back to the input).
4. Selection. Up to MAX_TESTS inputs a problem, within its events budget: the input that shows
   a fixed canonical solution's bug, boundary inputs (up to MAX_BOUNDARY) and named numbers (up
   to MAX_NAMED), which may take a quarter of the budget, then the mutated ones, taken in turn
   from each distinct answer, so that rare answers are not crowded out by common ones.
5. The data file: a header (format, HumanEval data digest, command, settings) and one line a
   problem (comparison rule, [input, expected] pairs as Python literals), gzip with no
   timestamp, so the same inputs give the same bytes. Then every canonical solution runs
   against the full benchmark in assert and io mode; any failure stops the script.

`mutants` writes every one-site mutant of each canonical solution as a whole-program sample and
evaluates them against humaneval and humaneval-plus; `compare` does the same for any samples
file (e.g. a `passk run` directory's samples.jsonl). Both print how many samples pass the
original tests but fail the new ones, and write the numbers as JSON with --out.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import json
import math
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from humaneval_plus_contracts import CONTRACTS
from humaneval_plus_mutation import generate_inputs, key, program_mutants

import passk
from passk.benchmarks import Benchmark, Problem, get_benchmark
from passk.benchmarks import humaneval_plus as plus
from passk.benchmarks.humaneval import PREIMPORTS
from passk.evaluation import make_job
from passk.execution import Job, Limits, Verdict, WorkerPool, choose_sandbox, codec
from passk.execution.options import ExecutionOptions
from passk.records import Sample

MAX_TESTS = 100
MAX_BOUNDARY = 25
MAX_NAMED = 15
MAX_OUTPUT_CHARS = 1000


@dataclass(frozen=True)
class Caps:
    """How much work the canonical solution may do: Python call/line events (counted in the
    traced run) for one input and for all of a problem's new tests (~15-20M events are a second
    untraced), and CPU seconds for one input in the timed run (a cut-off, above the events)."""

    call_events: int = 200_000
    problem_events: int = 2_000_000
    call_cpu_s: float = 0.03
    batch: int = 150  # inputs per sandbox job


CAPS = Caps()
# HumanEval/75's canonical solution tries every triple of primes below 100 before it answers
# False (~2M events, ~0.1 s): with the default caps its new tests would all be True.
CAPS_FOR = {
    "HumanEval/75": Caps(call_events=3_000_000, problem_events=10_000_000, call_cpu_s=0.5, batch=25)
}
JOB_CPU_S = 40.0  # a job stops trying inputs past this (they are dropped)
GENERATION_LIMITS = Limits(timeout=60.0, wall_timeout=240.0, max_output_kb=32 << 10)
MARKER = "@@humaneval-plus@@"
FIXES = json.loads(plus.FIXES_FILE.read_text(encoding="utf-8"))

# How answers are compared: HumanEval's own rule for each problem (see the benchmark module).
COMPARE: dict[str, tuple[str, float | None]] = {
    **{t: ("close", 1e-6) for t in ("HumanEval/2", "HumanEval/4")},  # their tests: 1e-6
    # float answers their tests compare with ==, on inputs chosen to be exact; new inputs are not
    **{
        t: ("close", 1e-6) for t in ("HumanEval/21", "HumanEval/45", "HumanEval/47", "HumanEval/71")
    },
    "HumanEval/32": ("find_zero", None),
    "HumanEval/33": ("tuple", None),
    "HumanEval/37": ("tuple", None),
    "HumanEval/52": ("truth", None),
    "HumanEval/56": ("truth", None),
    "HumanEval/61": ("truth", None),
    "HumanEval/72": ("identity", None),
}
# The property an answer must have for the input to be kept, beyond the canonical returning it
# (Python over `_args` and `_out`, run in the sandbox next to the prompt's helpers).
ACCEPT = {
    "HumanEval/32": "_hep_math.fabs(poly(_args[0], _out)) < 1e-4",
    "HumanEval/38": "encode_cyclic(_out) == _args[0]",
    "HumanEval/50": "encode_shift(_out) == _args[0]",
}

RECORDER = """
{program}

import copy as _hep_copy
import random as _hep_random

_hep_codec = {{}}
exec({codec_source!r}, _hep_codec)
_hep_calls = []


def _hep_recorder(*args, **kwargs):
    if kwargs:
        raise TypeError("keyword arguments are not recorded")
    _hep_calls.append(_hep_copy.deepcopy(args))
    return {entry_point}(*args)


_hep_random.seed(0)
check(_hep_recorder)
print("\\n{marker}" + _hep_codec["encode"](_hep_calls).decode())
"""

RUNNER = '''
{program}

import copy as _hep_copy
import math as _hep_math
import signal as _hep_signal
import sys as _hep_sys
import time as _hep_time

_hep_codec = {{}}
exec({codec_source!r}, _hep_codec)
_hep_over = [False]


class _HepBudget(BaseException):
    pass


def _hep_stop(*_):
    _hep_over[0] = True
    raise _HepBudget


_hep_signal.signal(_hep_signal.SIGPROF, _hep_stop)


def _hep_accept(_args, _out):
    return {accept}


def _hep_call(args, traced):
    """[status, answer or exception name, events (traced), CPU seconds (untraced)]"""
    events = [0]

    def tracer(frame, event, arg):
        events[0] += 1
        if events[0] > {call_events}:
            _hep_stop()
        return tracer

    _hep_over[0] = False
    start = _hep_time.process_time()
    if traced:
        _hep_sys.settrace(tracer)
    else:  # a CPU timer that fires again every 10 ms, in case the code swallows the first
        _hep_signal.setitimer(_hep_signal.ITIMER_PROF, {call_cpu}, 0.01)
    try:
        out = {entry_point}(*_hep_copy.deepcopy(args))
        status = "ok"
    except BaseException as e:
        status, out = "raised", type(e).__name__
    finally:
        _hep_sys.settrace(None)
        _hep_signal.setitimer(_hep_signal.ITIMER_PROF, 0)
    cpu = _hep_time.process_time() - start
    if _hep_over[0]:
        return ["too long", None, events[0], cpu]
    if status != "ok":
        return [status, out, events[0], cpu]
    try:
        if len(repr(out)) > {max_chars}:
            return ["too big", None, events[0], cpu]
        _hep_codec["encode"](out)
        accepted = bool(_hep_accept(args, out))
    except BaseException as e:
        return ["unusable", type(e).__name__, events[0], cpu]
    return ["ok" if accepted else "rejected", out, events[0], cpu]


_hep_results = []
_hep_start = _hep_time.process_time()
for _hep_args in _hep_codec["decode"]({inputs!r}):
    if _hep_time.process_time() - _hep_start > {job_cpu}:
        _hep_results.append(["skipped", None, 0, 0.0])
    else:
        _hep_results.append(_hep_call(_hep_args, {traced}))
print("\\n{marker}" + _hep_codec["encode"](_hep_results).decode())
'''


@dataclass
class Outcome:
    """What the canonical solution did on one input, in one run."""

    status: str  # ok, raised, too long, too big, unusable, rejected, skipped, job failed
    value: Any = None
    events: int = 0
    cpu_s: float = 0.0


@dataclass
class Candidate:
    args: tuple[Any, ...]
    how: str  # fix (shows a fixed bug), boundary, named (a number of the docstring) or mutation
    timed: Outcome | None = None  # the first run: untraced, under a CPU timer
    traced: Outcome | None = None  # the second run, in a fresh pool: events counted

    @property
    def kept(self) -> bool:
        """Both runs returned the same answer within the caps."""
        timed, traced = self.timed, self.traced
        return (
            timed is not None
            and traced is not None
            and timed.status == traced.status == "ok"
            and key(timed.value) == key(traced.value)
            and literal_round_trip(self.args)
            and literal_round_trip(timed.value)
        )

    @property
    def events(self) -> int:
        return self.traced.events if self.traced else 0

    @property
    def answer(self) -> Any:
        return self.timed.value if self.timed else None


def literal_round_trip(value: Any) -> bool:
    """Whether repr(value) is Python source for an equal value of the same types."""
    try:
        return key(ast.literal_eval(repr(value))) == key(value)
    except (ValueError, SyntaxError, RecursionError):
        return False


# ---------------------------------------------------------------- running in the sandbox

CODEC_SOURCE = Path(codec.__file__).read_text(encoding="utf-8")


def run_programs(programs: Sequence[str], limits: Limits = GENERATION_LIMITS) -> list[Verdict]:
    """Run each program in the sandbox (one fresh pool: fresh hash seeds); verdicts in order."""
    verdicts: list[Verdict | None] = [None] * len(programs)
    workers = max(1, min(len(programs), os.cpu_count() or 1))
    pool = WorkerPool(workers, limits=limits, preimports=PREIMPORTS, sandbox=choose_sandbox("auto"))
    with pool:
        for index, verdict in pool.run(Job(i, p) for i, p in enumerate(programs)):
            verdicts[index] = verdict
    return [v for v in verdicts if v is not None]


def marked_value(verdict: Verdict) -> Any:
    """The plain data a job printed after the marker, or None if it did not finish."""
    if not verdict.passed or MARKER not in verdict.output:
        return None
    line = verdict.output.rsplit(MARKER, 1)[1].split("\n", 1)[0]
    return codec.decode(line.encode())


def record_seeds(problems: Sequence[Problem]) -> dict[str, list[tuple[Any, ...]]]:
    """task_id -> the distinct argument tuples its check calls the canonical solution with."""
    programs = [
        RECORDER.format(
            program=f"{p.prompt}{p.canonical_solution}\n{p.test}",
            codec_source=CODEC_SOURCE,
            entry_point=p.entry_point,
            marker=MARKER,
        )
        for p in problems
    ]
    seeds = {}
    for problem, verdict in zip(problems, run_programs(programs), strict=True):
        calls = marked_value(verdict)
        if calls is None:
            raise SystemExit(f"{problem.task_id}: recording the seeds failed: {verdict.result}")
        distinct = {key(args): tuple(args) for args in calls}
        seeds[problem.task_id] = list(distinct.values())
    return seeds


def runner(problem: Problem, inputs: list[tuple[Any, ...]], traced: bool) -> str:
    return RUNNER.format(
        program=problem.prompt + problem.canonical_solution,
        codec_source=CODEC_SOURCE,
        accept=ACCEPT.get(problem.task_id, "True"),
        call_events=CAPS_FOR.get(problem.task_id, CAPS).call_events,
        call_cpu=CAPS_FOR.get(problem.task_id, CAPS).call_cpu_s,
        entry_point=problem.entry_point,
        max_chars=MAX_OUTPUT_CHARS,
        inputs=codec.encode(inputs),
        job_cpu=JOB_CPU_S,
        traced=traced,
        marker=MARKER,
    )


def run_canonical(
    problems: dict[str, Problem], work: dict[str, list[Candidate]], traced: bool
) -> None:
    """Set each candidate's `timed` (traced=False) or `traced` outcome; the traced run takes
    only what the timed one kept. Inputs go in batches; a job that dies is split in halves
    (an input that kills a job alone is 'job failed')."""
    field = "traced" if traced else "timed"
    todo = {
        t: [c for c in cs if not traced or (c.timed and c.timed.status == "ok")]
        for t, cs in work.items()
    }
    batches = [
        (t, cs[i : i + size])
        for t, cs in todo.items()
        for size in [CAPS_FOR.get(t, CAPS).batch]
        for i in range(0, len(cs), size)
    ]
    while batches:
        say(f"  {len(batches)} jobs")
        programs = [runner(problems[t], [c.args for c in cs], traced) for t, cs in batches]
        retry = []
        for (task_id, cands), verdict in zip(batches, run_programs(programs), strict=True):
            results = marked_value(verdict)
            if results is not None:
                for cand, (status, value, events, cpu) in zip(cands, results, strict=True):
                    setattr(cand, field, Outcome(status, value, events, cpu))
            elif len(cands) == 1:
                setattr(cands[0], field, Outcome("job failed", verdict.result))
            else:
                half = len(cands) // 2
                retry += [(task_id, cands[:half]), (task_id, cands[half:])]
        batches = retry


# ---------------------------------------------------------------- selection and the data file


def select(candidates: list[Candidate], budget: int) -> list[Candidate]:
    """The inputs that show fixed bugs, then boundary inputs, then mutated ones round-robin
    over distinct answers, within MAX_TESTS and `budget` events."""
    kept = [c for c in candidates if c.kept]
    boundary = [c for c in kept if c.how == "fix"]
    boundary += [c for c in kept if c.how == "boundary"][:MAX_BOUNDARY]
    boundary += [c for c in kept if c.how == "named"][:MAX_NAMED]
    groups: dict[str, list[Candidate]] = {}
    for c in kept:
        if c not in boundary:
            groups.setdefault(key(c.answer), []).append(c)
    order = list(boundary)
    queues = list(groups.values())
    while queues:
        order += [q.pop(0) for q in queues]
        queues = [q for q in queues if q]
    chosen: list[Candidate] = []
    events = early = 0
    for c in order:
        # the fix and boundary inputs may take a quarter of the budget, the rest is for variety
        first = c.how != "mutation"
        fits = len(chosen) < MAX_TESTS and events + c.events <= budget
        if fits and (not first or early + c.events <= budget // 4):
            chosen.append(c)
            events += c.events
            early += c.events if first else 0
    return chosen


def data_row(task_id: str, chosen: list[Candidate]) -> dict[str, Any]:
    compare, tolerance = COMPARE.get(task_id, ("exact", None))
    row: dict[str, Any] = {"task_id": task_id, "compare": compare}
    if tolerance is not None:
        row["tolerance"] = tolerance
    row["tests"] = [[repr(c.args), repr(c.answer)] for c in chosen]
    return row


def write_data(rows: list[dict[str, Any]], human_eval_sha256: str) -> str:
    """Write the tests file (byte-for-byte reproducible) and record its digest in the module."""
    header = {
        "format": plus.FORMAT,
        "human_eval_sha256": human_eval_sha256,
        "generator": "scripts/humaneval_plus.py",
        "command": plus.REGENERATE,
        "settings": {
            "max_tests": MAX_TESTS,
            "caps": vars(CAPS),
            "caps_for": {t: vars(c) for t, c in CAPS_FOR.items()},
            "max_output_chars": MAX_OUTPUT_CHARS,
        },
    }
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in [header, *rows])
    data = gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)
    plus.DATA_FILE.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    module = Path(plus.__file__)
    source = module.read_text(encoding="utf-8")
    module.write_text(
        re.sub(r'DATA_SHA256 = "[0-9a-f]{64}"', f'DATA_SHA256 = "{digest}"', source),
        encoding="utf-8",
    )
    plus.DATA_SHA256 = digest
    return digest


def verify(bench: Benchmark) -> dict[str, list[Verdict]]:
    """Every canonical solution against the full benchmark, in assert and io mode."""
    limits = Limits()
    found = {}
    for mode in ("assert", "io"):
        jobs = []
        for i, p in enumerate(bench.problems.values()):
            sample = Sample(p.task_id, 0, p.canonical_solution)
            jobs.append(make_job(i, p, sample, mode))
        verdicts: list[Verdict | None] = [None] * len(jobs)
        pool = WorkerPool(os.cpu_count() or 1, limits=limits, preimports=bench.preimports)
        with pool:
            for i, verdict in pool.run(jobs):
                verdicts[i] = verdict
        found[mode] = [v for v in verdicts if v is not None]
    return found


# ---------------------------------------------------------------- generate


def base_problems() -> dict[str, Problem]:
    """HumanEval's problems with the fixed canonical solutions."""
    base = get_benchmark("humaneval")
    fixes = plus.read_fixes(plus.FIXES_FILE, base)
    return {
        t: Problem(t, p.prompt, p.entry_point, fixes.get(t, p.canonical_solution), p.test)
        for t, p in base.problems.items()
    }


def generate(args: argparse.Namespace) -> int:
    started = time.monotonic()
    problems = base_problems()
    if set(CONTRACTS) != set(problems):
        raise SystemExit("the contracts do not cover HumanEval's problems")
    say(f"recording the seed inputs of {len(problems)} problems in the sandbox")
    seeds = record_seeds(list(problems.values()))
    for task_id, args_list in seeds.items():
        outside = [a for a in args_list if not CONTRACTS[task_id].allows(a)]
        if outside:
            say(
                f"  {task_id}: {len(outside)} seed(s) outside the contract, e.g. {outside[0]!r:.80}"
            )
    work = {t: candidates(problems[t], args_list) for t, args_list in seeds.items()}
    say(
        f"{sum(map(len, work.values()))} candidate inputs; the canonical solutions run on them, timed"
    )
    run_canonical(problems, work, traced=False)
    say("and again on those they answered, traced, in a fresh pool")
    run_canonical(problems, work, traced=True)
    rows = []
    for task_id in problems:
        chosen = select(work[task_id], CAPS_FOR.get(task_id, CAPS).problem_events)
        rows.append(data_row(task_id, chosen))
        _warn_float_answers(task_id, chosen)
    digest = write_data(rows, get_benchmark("humaneval").sha256)
    counts = [len(r["tests"]) for r in rows]
    say(
        f"wrote {plus.DATA_FILE} ({plus.DATA_FILE.stat().st_size} bytes, sha256 {digest[:16]}...): "
        f"{sum(counts)} new tests, {min(counts)}-{max(counts)} a problem, "
        f"{sum(c == 0 for c in counts)} problems without new tests"
    )
    _report_rejections(work)
    return _verify_written(started)


def candidates(problem: Problem, seeds: list[tuple[Any, ...]]) -> list[Candidate]:
    """The input that shows a fixed canonical solution's bug (if any), then generated ones."""
    task_id = problem.task_id
    rng = random.Random(f"humaneval-plus/{task_id}")
    allowed = CONTRACTS[task_id].allows
    made = [
        Candidate(a, how) for a, how in generate_inputs(seeds, allowed, rng, text=problem.prompt)
    ]
    for fix in FIXES:
        example = tuple(ast.literal_eval(fix["example"]["input"]))
        if fix["task_id"] == task_id and CONTRACTS[task_id].allows(example):
            made = [Candidate(example, "fix"), *(c for c in made if key(c.args) != key(example))]
    return made


def _verify_written(started: float) -> int:
    bench = plus.load_humaneval_plus()
    failures = 0
    for mode, verdicts in verify(bench).items():
        bad = [(t, v.result) for t, v in zip(bench.problems, verdicts, strict=True) if not v.passed]
        slowest = max(verdicts, key=lambda v: v.cpu_s)
        say(
            f"canonical solutions, {mode} mode: {len(verdicts) - len(bad)}/{len(verdicts)} pass; "
            f"most CPU {slowest.cpu_s:.2f} s"
        )
        for task_id, result in bad:
            say(f"  {task_id}: {result}")
        failures += len(bad)
    say(f"done in {time.monotonic() - started:.0f} s")
    return 1 if failures else 0


def _warn_float_answers(task_id: str, chosen: list[Candidate]) -> None:
    """Float answers compared exactly are worth a look: is the answer computed or chosen?"""
    if COMPARE.get(task_id, ("exact",))[0] != "exact":
        return
    for c in chosen:
        value = c.answer
        if _has_fraction(value) and not _has_fraction(c.args):
            say(f"  note: {task_id} answers {value!r:.60} to {c.args!r:.60} (exact comparison)")
            return


def _has_fraction(value: Any) -> bool:
    if type(value) is float:
        return value != math.floor(value)
    if type(value) in (list, tuple):
        return any(_has_fraction(v) for v in value)
    return False


def _report_rejections(work: dict[str, list[Candidate]]) -> None:
    counts: dict[str, int] = {}
    for cands in work.values():
        for c in cands:
            for run in (c.timed, c.traced):
                status = run.status if run else "not run"
                counts[status] = counts.get(status, 0) + 1
    say(
        "outcomes of the canonical runs: "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )


# ---------------------------------------------------------------- measuring: mutants and samples


def evaluate_both(
    samples: Path, out_dir: Path, mode: str
) -> dict[str, dict[tuple[str, int], bool]]:
    """benchmark -> (task_id, completion_id) -> passed, for humaneval and humaneval-plus."""
    found = {}
    for name in ("humaneval", plus.NAME):
        evaluation = passk.evaluate(
            samples,
            benchmark=name,
            k=[1],
            execution=ExecutionOptions(mode=mode),
            out=out_dir / f"{name}-{mode}-results.jsonl",
        )
        rows = [json.loads(line) for line in evaluation.results_path.read_text().splitlines()]
        found[name] = {(r["task_id"], r["completion_id"]): r["passed"] for r in rows}
    return found


def caught(found: dict[str, dict[tuple[str, int], bool]]) -> dict[str, Any]:
    """How many samples pass the original tests, the new ones, and the original but not the new."""
    original, harder = found["humaneval"], found[plus.NAME]
    slipped = sorted(k for k, ok in original.items() if ok and not harder[k])
    return {
        "samples": len(original),
        "pass_humaneval": sum(original.values()),
        "pass_humaneval_plus": sum(harder.values()),
        "pass_original_fail_new": len(slipped),
        "problems_with_such_samples": len({t for t, _ in slipped}),
        "pass_new_fail_original": sum(1 for k, ok in harder.items() if ok and not original[k]),
        "examples": [f"{t} #{i}" for t, i in slipped[:20]],
    }


def mutants(args: argparse.Namespace) -> int:
    problems = base_problems()
    rows = []
    for task_id, p in problems.items():
        made = program_mutants(p.prompt, p.canonical_solution, p.entry_point)
        rng = random.Random(f"humaneval-plus-mutants/{task_id}")
        picked = sorted(rng.sample(range(len(made)), min(args.per_problem, len(made))))
        for i, (what, program) in enumerate(made[j] for j in picked):
            rows.append(
                {"task_id": task_id, "completion_id": i, "solution": program, "mutant": what}
            )
    say(f"{len(rows)} mutants of {len(problems)} canonical solutions")
    return _measure(rows, args)


def compare(args: argparse.Namespace) -> int:
    rows = [
        json.loads(line) for line in Path(args.samples).read_text().splitlines() if line.strip()
    ]
    return _measure(rows, args)


def _measure(rows: list[dict[str, Any]], args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="humaneval-plus-") as tmp:
        samples = Path(tmp) / "samples.jsonl"
        samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
        report = {mode: caught(evaluate_both(samples, Path(tmp), mode)) for mode in args.modes}
    for mode, numbers in report.items():
        say(f"{mode} mode: " + ", ".join(f"{k} {v}" for k, v in numbers.items() if k != "examples"))
        say(f"  e.g. {', '.join(numbers['examples'][:10])}")
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    return 0


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    commands = p.add_subparsers(dest="command", required=True)
    commands.add_parser("generate", help="make the data file").set_defaults(run=generate)
    for name, run in (("mutants", mutants), ("compare", compare)):
        c = commands.add_parser(name)
        if name == "compare":
            c.add_argument("samples", help="a samples JSONL file (task_id, completion or solution)")
        else:
            c.add_argument("--per-problem", type=int, default=10, help="mutants a problem")
        c.add_argument("--modes", nargs="+", default=["assert"], choices=["assert", "io"])
        c.add_argument("--out", help="write the numbers as JSON here")
        c.set_defaults(run=run)
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
