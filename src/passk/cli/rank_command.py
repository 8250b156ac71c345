"""`passk rank RUN`: Figure 7's curves, the pass rate of one sample chosen out of k."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from passk.errors import InputError


def register(commands: Any) -> None:
    p = commands.add_parser(
        "rank",
        help="pass rate of one sample chosen out of k by each heuristic (Figure 7)",
        description="For each k, the expected pass rate of the one sample a heuristic picks out "
        "of a random k-subset (random, oracle, highest mean/sum log-probability), computed "
        "exactly over subsets and averaged over problems.",
    )
    p.add_argument("results", help="run directory (with results.jsonl) or a results JSONL file")
    p.add_argument("--k", default=None, help="comma-separated ks (default: 1..n)")
    p.add_argument(
        "--json",
        default=None,
        help="where to write the curves (default: ranking.json beside the results)",
    )
    p.set_defaults(handler=run)


def parse_ks(text: str | None) -> list[int] | None:
    """'1,2,5' -> [1, 2, 5]; None stays None."""
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise InputError(f"--k: {text!r} is not a comma-separated list of integers") from None


def run(args: argparse.Namespace) -> int:
    from passk.analysis.ranking import rank_curves
    from passk.records.jsonl import write_text_atomic

    path = Path(args.results)
    results = path / "results.jsonl" if path.is_dir() else path
    curves = rank_curves(results, ks=parse_ks(args.k))
    out = Path(args.json) if args.json else results.parent / "ranking.json"
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
        table.add_column(f"{name} %", justify="right")
    for i, k in enumerate(curves["ks"]):
        cells = [f"{100 * curves['curves'][name][i][1]:.2f}" for name in names]
        table.add_row(str(k), *cells)
    console.print(table)
    for name, reason in curves["skipped"].items():
        console.print(f"skipped {name}: {reason}", markup=False)
    console.print(f"ranking: {out}", markup=False)
