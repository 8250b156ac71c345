"""`passk rank RUN`: Figure 7's curves, the pass rate of one sample chosen out of k."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from passk.cli.options import add_execution_options, execution_options, k_list
from passk.errors import InputError


def register(commands: Any) -> None:
    p = commands.add_parser(
        "rank",
        help="pass rate of one sample chosen out of k by each heuristic (Figure 7)",
        description="For each k, the expected pass rate of the one sample a heuristic picks out "
        "of a random k-subset (random, oracle, highest mean/sum log-probability, and on request "
        "back-translation and the prompt's docstring examples), computed exactly over subsets "
        "and averaged over problems.",
    )
    p.add_argument("results", help="run directory (with results.jsonl) or a results JSONL file")
    p.add_argument(
        "--k",
        type=k_list,
        default=None,
        metavar="K,K,...",
        help="comma-separated ks (default: 1..n)",
    )
    p.add_argument(
        "--json",
        default=None,
        help="where to write the curves (default: ranking.json beside the results)",
    )
    p.add_argument(
        "--back-translation",
        action="store_true",
        help="also rank by log P(docstring | sample's code) under a local model",
    )
    p.add_argument(
        "--docstring-model",
        default=None,
        metavar="DIR",
        help="model directory for --back-translation (default: the run's model, from its "
        "config.json)",
    )
    p.add_argument(
        "--examples",
        action="store_true",
        help="also rank by passing the >>> examples of the prompt's docstring, run in the "
        "sandbox (ties and problems without examples: mean log-probability)",
    )
    p.add_argument(
        "--benchmark",
        default=None,
        help="benchmark of the results (default: the run's, else humaneval)",
    )
    group = p.add_argument_group("running --examples", "as for passk evaluate")
    add_execution_options(group)
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.records import RunDir
    from passk.records.files import write_text_atomic
    from passk.scoring import rank_run

    if args.docstring_model and not args.back_translation:
        raise InputError("--docstring-model is for --back-translation; add that flag")
    results = RunDir.of(args.results).results
    curves = rank_run(
        results.path,
        ks=args.k,
        benchmark=args.benchmark,
        back_translation=args.back_translation,
        docstring_model=args.docstring_model,
        examples=args.examples,
        execution=execution_options(args) if args.examples else None,
        on_start=lambda line: print(line, file=sys.stderr),
    )
    out = Path(args.json) if args.json else results.ranking
    write_text_atomic(out, json.dumps(curves, indent=2) + "\n")
    print_curves(curves, out)
    return 0


def print_curves(curves: dict[str, Any], out: Path) -> None:
    """The table of k by heuristic in %, then the skipped heuristics and the JSON path."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, soft_wrap=True)
    console.print(f"{curves['problems']} problems, {curves['samples']} samples", markup=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("k", justify="right")
    names = list(curves["curves"])
    for name in names:
        table.add_column(f"{name} %", justify="right", min_width=len(name))
    for i, k in enumerate(curves["ks"]):
        cells = [f"{100 * curves['curves'][name][i][1]:.2f}" for name in names]
        table.add_row(str(k), *cells)
    console.print(table)
    for name, reason in curves["skipped"].items():
        console.print(f"skipped {name}: {reason}", markup=False)
    for line in notes(curves):
        console.print(line, markup=False)
    console.print(f"ranking: {out}", markup=False)


def notes(curves: dict[str, Any]) -> list[str]:
    """How the expectation was computed, and what the optional rankings used."""
    lines = [f"expectation over k-subsets: {curves['expectation']}"]
    if bt := curves.get("back_translation"):
        lines.append(
            f"back_translation: log P(docstring | code) under {bt['model']} "
            f"({bt['texts_scored']} distinct texts scored)"
        )
    if ex := curves.get("examples"):
        lines.append(
            f"examples: {ex['problems_with_examples']} of {ex['problems']} problems have >>> "
            f"examples; {ex['samples_passing']} of their {ex['samples_run']} samples pass them; "
            "ties, and problems without examples, ranked by mean_logp"
        )
    return lines
