"""`passk run [MODEL]`: generate, evaluate and score in one run directory."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from passk.cli.options import (
    add_execution_options,
    add_sampling_options,
    execution_limits,
    sampling_params,
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
        help="model directory, openai:URL or vllm:PATH (default: passk's own model)",
    )
    add_sampling_options(p, n=10)
    add_execution_options(p)
    p.add_argument(
        "--out",
        default=None,
        metavar="DIR",
        help="run directory (default: runs/<model>-<benchmark>-n<n>-t<T>-s<seed>)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.pipeline import run as run_pipeline

    limits = execution_limits(args)
    with (
        generation_progress(not args.no_progress) as on_generate,
        evaluation_progress(not args.no_progress) as on_evaluate,
    ):
        result = run_pipeline(
            args.model,
            out=args.out,
            benchmark=args.benchmark,
            tasks=args.tasks,
            n=args.n,
            params=sampling_params(args),
            seed=args.seed,
            k=args.k,
            resume=args.resume,
            model_name=args.model_name,
            batch_size=args.batch_size,
            token_healing=args.token_healing,
            workers=args.workers,
            limits=limits,
            sandbox=args.sandbox,
            mode=args.mode,
            on_generate=on_generate,
            on_evaluate=on_evaluate,
            on_start=lambda line: print(line, file=sys.stderr),
        )
    print_generation(result.generation)
    evaluation = result.evaluation
    print_summary(evaluation.summary, evaluation.results_path, evaluation.summary_path)
    return 0
