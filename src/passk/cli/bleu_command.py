"""`passk bleu RUN_DIR`: BLEU against functional correctness (Figure 8); writes bleu.json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table


def register(commands: Any) -> None:
    p = commands.add_parser(
        "bleu",
        help="BLEU of each sample against the canonical solution, by pass/fail (Figure 8)",
        description="Score each sample of a results file with sentence BLEU against its "
        "problem's canonical solution, compare correct with incorrect samples, and report the "
        "ROC AUC of BLEU as a pass/fail classifier. Writes bleu.json.",
    )
    p.add_argument("results", help="run directory, or a results JSONL from passk evaluate")
    p.add_argument(
        "--benchmark",
        default=None,
        help="benchmark name (default: the one in the results' summary, else humaneval)",
    )
    p.add_argument("--problems", type=int, default=4, help="problems to show (default: 4)")
    p.add_argument("--json", default=None, help="output JSON (default: bleu.json beside results)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.analysis.bleu import bleu_analysis
    from passk.records import RunDir
    from passk.records.files import write_text_atomic

    results = RunDir.of(args.results).results
    benchmark = args.benchmark or results.benchmark() or "humaneval"
    analysis = bleu_analysis(results.path, benchmark=benchmark, problems=args.problems)
    out = Path(args.json) if args.json else results.bleu
    write_text_atomic(out, json.dumps(analysis, indent=2) + "\n")
    print_bleu(analysis, out)
    return 0


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _auc(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _class_row(label: str, summary: dict[str, Any]) -> list[str]:
    quartiles = "-" if summary["count"] == 0 else f"{_num(summary['q1'])} - {_num(summary['q3'])}"
    return [label, str(summary["count"]), _num(summary["mean"]), _num(summary["median"]), quartiles]


def print_bleu(analysis: dict[str, Any], out: Path, console: Console | None = None) -> None:
    """BLEU by class overall and for the shown problems, the AUCs, and what was left out."""
    console = console or Console(highlight=False, soft_wrap=True)
    console.print(f"{analysis['benchmark']}: {analysis['samples']} samples", markup=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("problem", "class", "n", "mean BLEU", "median", "q1 - q3"):
        table.add_column(name, justify="left" if name in ("problem", "class") else "right")
    for cls in ("correct", "incorrect"):
        table.add_row("all", *_class_row(cls, analysis["overall"][cls]))
    for problem in analysis["problems"]:
        for cls in ("correct", "incorrect"):
            table.add_row(problem["task_id"], *_class_row(cls, problem[cls]))
    console.print(table)
    auc = analysis["auc"]
    console.print(
        f"ROC AUC of BLEU for pass/fail (0.5 = chance): overall {_auc(auc['overall'])}, "
        f"mean over {auc['problems_with_both']} problems {_auc(auc['per_problem_mean'])}",
        markup=False,
    )
    for key, why in analysis["not_computable"].items():
        console.print(f"{key}: {why}", markup=False)
    for line in analysis["skipped"]:
        console.print(f"skipped: {line}", markup=False)
    console.print(f"tokenization: {analysis['tokenization']}", markup=False)
    console.print(f"bleu: {out}", markup=False)
