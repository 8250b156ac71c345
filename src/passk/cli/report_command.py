"""`passk report RUN [RUN ...]`: one self-contained HTML report, and its Markdown twin."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from passk.cli.options import positive_int


def register(commands: Any) -> None:
    from passk.analysis.report import BLEU_LIMIT

    p = commands.add_parser(
        "report",
        help="an HTML report (and a Markdown twin) over run directories: tables, figures, samples",
        description="Write one self-contained HTML file (figures embedded, nothing fetched "
        "from the network) and report.md beside it: each run's configuration, pass@k with "
        "confidence intervals, outcomes, figures (temperature sweep, ranking, BLEU), "
        "per-problem pass rates and samples, and pass@k across runs side by side and against "
        "model size. Missing input is named in the report and on stderr; the rest is still "
        "written.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (of passk run or sweep)")
    p.add_argument(
        "--out",
        default="report.html",
        help="the HTML file (default: report.html); "
        "the Markdown twin and its PNG figures go beside it",
    )
    p.add_argument(
        "--bleu-limit",
        type=positive_int,
        default=BLEU_LIMIT,
        help="compute BLEU for runs of at most this many samples when bleu.json is absent "
        f"(default: {BLEU_LIMIT})",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.analysis.report import write_report

    report = write_report(args.runs, args.out, bleu_limit=args.bleu_limit)
    for notice in report.notices:
        print(f"warning: {notice}", file=sys.stderr)
    print(f"report: {report.html_path}")
    print(f"markdown: {report.markdown_path} ({len(report.figure_paths)} figures beside it)")
    return 0
