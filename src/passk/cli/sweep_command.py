"""`passk sweep [MODEL]`: pass@k at several temperatures, and the best temperature per k."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from passk.cli.options import (
    add_benchmark_option,
    add_execution_options,
    add_generation_options,
    add_k_option,
    execution_options,
    generation_options,
)


def register(commands: Any) -> None:
    p = commands.add_parser(
        "sweep",
        help="run a model at several temperatures; pass@k per temperature and the best T per k",
        description="Run MODEL (default: passk's own model) at each temperature, one run "
        "directory per temperature under --out (finished ones are reused), and report pass@k "
        "against k and the best temperature for each k (Chen et al. 2021, Figure 5).",
    )
    p.add_argument(
        "model",
        metavar="MODEL",
        nargs="?",
        default=None,
        help="model directory, openai:URL[,URL...], openai-chat:URL[,URL...] or vllm:PATH "
        "(default: passk's own model)",
    )
    p.add_argument(
        "--temperatures",
        type=_temperatures,
        default=[0.0, 0.2, 0.4, 0.6, 0.8, 1.0],
        help="comma-separated temperatures (default: 0,0.2,0.4,0.6,0.8,1.0)",
    )
    add_benchmark_option(p)
    add_generation_options(p, n=100, temperature=False)
    add_k_option(p)
    add_execution_options(p, auto=True)
    p.add_argument("--out", required=True, metavar="DIR", help="the sweep's folder")
    p.set_defaults(handler=run)


def _temperatures(text: str) -> list[float]:
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values or any(not v >= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected temperatures of 0 or more, got {text!r}")
    return values


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from passk.pipeline import sweep

    summary = sweep(
        args.model,
        out=args.out,
        temperatures=args.temperatures,
        generation=generation_options(args),
        benchmark=args.benchmark,
        k=args.k,
        execution=execution_options(args),
        on_temperature=lambda t: print(f"temperature {t:g}", file=sys.stderr),
    )
    table = Table(title="pass@k (%) by temperature")
    table.add_column("k", justify="right")
    for name in summary["curves"]:
        table.add_column(f"T={name}", justify="right")
    table.add_column("best T", justify="right")
    best = dict((int(k), t) for k, t in summary["best_temperature"])
    for i, (k, _) in enumerate(next(iter(summary["curves"].values()))):
        if int(k) not in best:
            continue
        row = [f"{100 * curve[i][1]:.2f}" for curve in summary["curves"].values()]
        table.add_row(str(int(k)), *row, f"{best[int(k)]:g}")
    Console(highlight=False, soft_wrap=True).print(table)
    print(f"sweep: {args.out}/sweep.json")
    return 0
