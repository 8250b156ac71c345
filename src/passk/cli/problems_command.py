"""`passk problems`: write a benchmark's problems, or its canonical solutions as samples."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from passk.cli.options import add_benchmark_option, add_execution_options, execution_options
from passk.records.jsonl import dumps, write_jsonl_atomic


def register(commands: Any) -> None:
    p = commands.add_parser(
        "problems",
        help="write a benchmark's problems (or its canonical solutions as samples) as JSONL",
        description="Write the benchmark's problems as JSONL (task_id, prompt, entry_point, "
        "canonical_solution, test), or with --canonical a samples file of the canonical "
        "solutions, which every correct harness must score at 100%%. A benchmark of mined "
        "problems keeps those whose canonical solution passes its own test, run under the "
        "execution options.",
    )
    add_benchmark_option(p)
    p.add_argument(
        "--canonical",
        action="store_true",
        help="write samples (task_id, completion) of the canonical solutions",
    )
    p.add_argument("--copies", type=int, default=1, help="with --canonical: samples per problem")
    p.add_argument("--out", default=None, help="output JSONL (default: stdout)")
    add_execution_options(p, cluster=False)  # canonical checks run here
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.benchmarks.problem import set_fields
    from passk.canonical import load_benchmark
    from passk.errors import InputError

    if args.copies < 1:
        raise InputError(f"--copies must be at least 1, got {args.copies}")
    bench = load_benchmark(args.benchmark, execution_options(args))
    rows: list[dict[str, Any]]
    if args.canonical:
        rows = [
            {"task_id": p.task_id, "completion_id": i, "completion": p.canonical_solution}
            for i in range(args.copies)
            for p in bench.problems.values()
            if p.canonical_solution  # (APPS has problems without solutions)
        ]
    else:
        rows = [set_fields(p) for p in bench.problems.values()]
    if args.out:
        write_jsonl_atomic(args.out, rows)
    else:
        sys.stdout.writelines(dumps(row) + "\n" for row in rows)
    return 0
