"""`passk run [MODEL]`: generate, evaluate and score in one run directory."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from passk.cli.options import (
    add_benchmark_option,
    add_execution_options,
    add_generation_options,
    add_k_option,
    add_run_control,
    execution_options,
    generation_options,
)
from passk.cli.output import (
    evaluation_progress,
    generation_progress,
    print_generation,
    print_summary,
)


def register(commands: Any) -> None:
    p = commands.add_parser(
        "run",
        help="the main job: sample a model, run the samples in the sandbox, print pass@k",
        description="Sample MODEL (default: passk's own model, models/passk-tiny) n times per "
        "problem, evaluate every sample in the sandbox and print pass@k; everything goes to one "
        "run directory (config, samples, results, summary) that --resume continues.",
    )
    p.add_argument(
        "model",
        metavar="MODEL",
        nargs="?",
        default=None,
        help="model directory, openai:URL[,URL...], openai-chat:URL[,URL...] or vllm:PATH "
        "(default: passk's own model)",
    )
    add_benchmark_option(p)
    add_generation_options(p, n=10)
    add_run_control(p, resume="continue an interrupted run")
    add_k_option(p)
    add_execution_options(p, auto=True)
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="run directory (default: runs/<model>-<benchmark>-n<n>-t<T>-s<seed>)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.pipeline import run as run_pipeline

    generation, execution = generation_options(args), execution_options(args)
    with (
        generation_progress(not args.no_progress) as on_generate,
        evaluation_progress(not args.no_progress) as on_evaluate,
    ):
        result = run_pipeline(
            args.model,
            out=args.out,
            benchmark=args.benchmark,
            generation=generation,
            execution=execution,
            k=args.k,
            resume=args.resume,
            on_generate=on_generate,
            on_evaluate=on_evaluate,
            on_start=lambda line: print(line, file=sys.stderr),
        )
    print_generation(result.generation)
    evaluation = result.evaluation
    print_summary(evaluation.summary, evaluation.results_path, evaluation.summary_path)
    return 0
