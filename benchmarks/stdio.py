"""Standard-input judging throughput: passk's stdio jobs against a new interpreter per case.

Judges `--programs` programs on `--cases` test cases each (an APPS-style sum of two integers,
all correct, so every case runs), two ways, in one run on one machine, for two programs: with
APPS's import header before it (as `apps:` runs every program; it imports numpy where numpy is
installed), and the sum alone:

  passk       `WorkerPool.run` of stdio jobs on `--workers` warm workers (APPS's preimports, the default sandbox,
              with its limits and cgroups): each program is compiled once in its sample's
              process, which forks once per case; the worker compares each case's output.
  subprocess  `subprocess.run([python, file], input=case, capture_output=True, timeout=...)`
              per case, then the same comparison (`stdio.outputs_match`), run by `--workers`
              threads: how a harness without a fork server judges (no sandbox at all).

Each runs `--repeats` times, interleaved, and the fastest is reported in cases per second, with
passk's as a ratio of subprocess's. Both check that every case passed. Nothing is asserted.

    .venv/bin/python benchmarks/stdio.py [--programs 30] [--cases 10] [--workers 2]
                                         [--repeats 2] [--sandbox auto]
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from passk.benchmarks.apps import IMPORTS, preimports
from passk.execution import Job, WorkerPool
from passk.execution.sandbox import choose_sandbox
from passk.execution.stdio import outputs_match

SUM = "a, b = map(int, input().split())\nprint(a + b)\n"
PROGRAMS = {"with APPS's import header": IMPORTS + SUM, "the sum alone": SUM}


def cases(count: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"{i} {2 * i}\n", f"{3 * i}\n") for i in range(count))


def run_passk(program: str, programs: int, count: int, workers: int, sandbox: str) -> float:
    jobs = [Job(i, program, mode="stdio", cases=cases(count)) for i in range(programs)]
    with WorkerPool(workers, sandbox=choose_sandbox(sandbox), preimports=preimports()) as pool:
        pool.run([Job(0, "pass")])  # started before the clock, as a warm pool is in a run
        list(pool.run([Job(0, program, mode="stdio", cases=cases(1))]))
        started = time.perf_counter()
        verdicts = [v for _, v in pool.run(jobs)]
        elapsed = time.perf_counter() - started
    assert all(v.passed for v in verdicts), {v.result for v in verdicts}
    return programs * count / elapsed


def run_subprocess(program: str, programs: int, count: int, workers: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for i in range(programs):
            files.append(Path(tmp) / f"p{i}.py")
            files[-1].write_text(program)

        def judge(file: Path) -> bool:
            return all(
                outputs_match(
                    subprocess.run(
                        [sys.executable, str(file)],
                        input=given,
                        capture_output=True,
                        text=True,
                        timeout=10,
                    ).stdout,
                    wanted,
                )
                for given, wanted in cases(count)
            )

        started = time.perf_counter()
        with ThreadPoolExecutor(workers) as threads:
            passed = list(threads.map(judge, files))
        elapsed = time.perf_counter() - started
    assert all(passed)
    return programs * count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", type=int, default=30)
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{args.programs} programs x {args.cases} cases, {args.workers} workers")
    for name, program in PROGRAMS.items():
        best = {"passk": 0.0, "subprocess": 0.0}
        for _ in range(args.repeats):
            shape = (args.programs, args.cases, args.workers)
            best["passk"] = max(best["passk"], run_passk(program, *shape, args.sandbox))
            best["subprocess"] = max(best["subprocess"], run_subprocess(program, *shape))
        print(f"{name}:")
        for method, rate in best.items():
            print(f"{method:>12}: {rate:8.1f} cases/s")
        print(f"  passk / subprocess: {best['passk'] / best['subprocess']:.2f}x")


if __name__ == "__main__":
    main()
