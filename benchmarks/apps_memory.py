"""Memory of a large APPS-style run: the peak RSS of the process that runs `passk.evaluate`.

Generates a problem set in the Hugging Face export's layout (`--problems` standard-input
problems with `--cases` test cases each, at the three difficulties) and `--samples` samples per
problem (one in four correct, the rest a wrong answer on a random case), then runs
`passk.evaluate` on them in a fresh Python process and reports that process's peak resident
set size (`ru_maxrss` of RUSAGE_SELF: the parent, not its workers). A run of the same set with
one sample per problem for its first 10 problems is measured in the same way, as the baseline:
what importing passk and starting the pool costs before any sample exists. Nothing is asserted.

Run it from the repository root, with the project's environment:

    .venv/bin/python benchmarks/apps_memory.py [--problems 5000] [--samples 20] [--cases 5]
                                               [--workers 2] [--sandbox auto]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN = """
import json, resource, sys, time
from passk.evaluation import evaluate
from passk.execution.options import ExecutionOptions
samples, spec, workers, sandbox = sys.argv[1:5]
started = time.monotonic()
result = evaluate(samples, benchmark=spec, k=[1, 10],
                  execution=ExecutionOptions(workers=int(workers), sandbox=sandbox))
print(json.dumps({
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "seconds": time.monotonic() - started,
    "samples": result.summary["samples"],
    "pass@1": result.summary["pass_at_k"]["pass@1"],
}))
"""
LEVELS = ("introductory", "interview", "competition")
CORRECT = "a, b = map(int, input().split())\nprint(a + b)\n"


def write_problems(path: Path, problems: int, cases: int, rng: random.Random) -> None:
    with path.open("w") as f:
        for number in range(problems):
            pairs = [(rng.randrange(10**6), rng.randrange(10**6)) for _ in range(cases)]
            tests = {
                "inputs": [f"{a} {b}\n" for a, b in pairs],
                "outputs": [f"{a + b}\n" for a, b in pairs],
            }
            row = {
                "problem_id": number,
                "question": f"Problem {number}: read two integers and print their sum. " * 20,
                "solutions": json.dumps([CORRECT]),
                "input_output": json.dumps(tests),
                "difficulty": LEVELS[number % 3],
                "url": "",
                "starter_code": "",
            }
            f.write(json.dumps(row) + "\n")


def write_samples(path: Path, problems: int, samples: int, rng: random.Random) -> None:
    with path.open("w") as f:
        for number in range(problems):
            for i in range(samples):
                wrong = rng.randrange(4) != 0
                text = (
                    CORRECT.replace("a + b", f"a + b + (a % {rng.randrange(2, 9)} == 0)")
                    if wrong
                    else CORRECT
                )
                f.write(
                    json.dumps(
                        {"task_id": f"APPS/{number}", "completion_id": i, "completion": text}
                    )
                    + "\n"
                )


def measure(samples: Path, spec: str, workers: int, sandbox: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", RUN, str(samples), spec, str(workers), sandbox],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--problems", type=int, default=5000)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--cases", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="passk-apps-memory-") as tmp:
        problems = Path(tmp) / "apps.jsonl"
        write_problems(problems, args.problems, args.cases, rng)
        small, large = Path(tmp) / "small.jsonl", Path(tmp) / "large.jsonl"
        write_samples(small, min(10, args.problems), 1, rng)
        write_samples(large, args.problems, args.samples, rng)
        spec = f"apps:{problems}"
        print(
            f"problems file: {problems.stat().st_size / 2**20:.1f} MB; samples: {large.stat().st_size / 2**20:.1f} MB"
        )
        for name, path in (
            ("baseline (10 samples)", small),
            (f"{args.problems} x {args.samples}", large),
        ):
            t = time.monotonic()
            found = measure(path, spec, args.workers, args.sandbox)
            print(
                f"{name:>24}: peak RSS {found['peak_rss_mb']:.0f} MB, {found['samples']} samples "
                f"in {time.monotonic() - t:.0f} s, pass@1 {100 * found['pass@1']:.1f}%"
            )


if __name__ == "__main__":
    main()
