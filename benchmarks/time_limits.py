"""Benchmark: `--timeout auto` (calibrated per-problem CPU limits) against the fixed 3 s.

Usage: python benchmarks/time_limits.py [--workers 2] [--json PATH]

A realistic set of HumanEval samples, three a problem (492): the canonical solution, a wrong
one (it returns None first), and, in turn, an empty body, an exception, a syntax error, a loop
that never ends, or a print of a megabyte before the canonical body. The set is judged twice
in one run, with the fixed limit and with `--timeout auto` (its calibration measured first, in
the same run, and timed apart), and the script prints the samples per second of each, their
ratio, and every verdict that differs. The endless loops dominate a run with the fixed limit
(each burns its 3 s of CPU), as they do in real models' samples.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import passk
from passk.benchmarks import get_benchmark
from passk.canonical import calibrate
from passk.execution.options import ExecutionOptions

VARIANTS = {
    "empty": "    pass\n",
    "raises": '    raise RuntimeError("the model gave up")\n',
    "syntax error": "    return )\n",
    "never ends": "    while True:\n        pass\n",
    "prints a megabyte": '    print("x" * (1 << 20))\n',
}


def realistic_samples() -> list[dict[str, str]]:
    rows = []
    rotating = list(VARIANTS.items())
    for i, (task_id, problem) in enumerate(get_benchmark("humaneval").problems.items()):
        canonical = problem.canonical_solution
        name, body = rotating[i % len(rotating)]
        if name == "prints a megabyte":
            body += canonical
        rows += [
            {"task_id": task_id, "variant": "canonical", "completion": canonical},
            {"task_id": task_id, "variant": "wrong", "completion": "    return None\n" + canonical},
            {"task_id": task_id, "variant": name, "completion": body},
        ]
    return rows


def judge(samples: Path, out: Path, execution: ExecutionOptions) -> tuple[float, list[str]]:
    started = time.perf_counter()
    evaluation = passk.evaluate(samples, k=[1], execution=execution, out=out)
    elapsed = time.perf_counter() - started
    with evaluation.results_path.open() as f:
        return elapsed, [json.loads(line)["result"] for line in f]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="parallel workers (default 2)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here")
    args = parser.parse_args(argv)
    rows = realistic_samples()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["XDG_CACHE_HOME"] = os.path.join(scratch, "cache")  # a fresh calibration
        samples = Path(scratch) / "samples.jsonl"
        samples.write_text("".join(json.dumps(r) + "\n" for r in rows))
        fixed = ExecutionOptions(workers=args.workers)
        auto = ExecutionOptions(workers=args.workers, timeout_auto=True)
        started = time.perf_counter()
        limits = calibrate(get_benchmark("humaneval"), auto)
        calibration_s = time.perf_counter() - started
        fixed_s, fixed_results = judge(samples, Path(scratch) / "fixed.jsonl", fixed)
        auto_s, auto_results = judge(samples, Path(scratch) / "auto.jsonl", auto)
    changed = [
        (row["task_id"], row["variant"], a, b)
        for row, a, b in zip(rows, fixed_results, auto_results, strict=True)
        if a != b
    ]
    values = sorted(limits.per_problem.values())
    print(f"{len(rows)} samples, {args.workers} workers, load {os.getloadavg()[0]:.1f}")
    print(f"calibration: {calibration_s:.1f} s, limits {values[0]:g}-{values[-1]:g} s")
    print(f"fixed 3 s:  {fixed_s:7.1f} s  {len(rows) / fixed_s:6.1f} samples/s")
    print(f"auto:       {auto_s:7.1f} s  {len(rows) / auto_s:6.1f} samples/s")
    print(f"auto/fixed: {fixed_s / auto_s:6.2f}x (samples/s)")
    print(f"verdicts that differ: {len(changed)}")
    for task_id, variant, a, b in changed:
        print(f"  {task_id} ({variant}): {a!r} -> {b!r}")
    if args.json:
        numbers = {
            "samples": len(rows),
            "calibration_s": calibration_s,
            "fixed_s": fixed_s,
            "auto_s": auto_s,
            "changed": changed,
        }
        args.json.write_text(json.dumps(numbers, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
