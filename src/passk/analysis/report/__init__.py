"""`passk report`: one self-contained HTML page, and a Markdown twin, over run directories.

Four parts: `runs` reads what each run directory holds (through `passk.records.RunDir`) and
computes what is missing; `document` is the report as blocks (paragraphs, tables, figures,
samples); `sections` builds those blocks for the runs, comparisons and sweeps; `render` writes
them as HTML (figures as PNG data URIs, CSS and a table-sorting script inline, a
Content-Security-Policy that loads nothing else) and Markdown. Missing or inconsistent input
becomes a notice naming what is missing; the rest of the report is still produced.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from passk.analysis.report.document import Figure, Section
from passk.analysis.report.render import render_html, render_markdown
from passk.analysis.report.runs import BLEU_LIMIT, count_parameters, load_run, parameter_count
from passk.analysis.report.sections import build_report
from passk.errors import InputError, OutputError

__all__ = [
    "BLEU_LIMIT",
    "Report",
    "build_report",
    "count_parameters",
    "load_run",
    "parameter_count",
    "render_html",
    "render_markdown",
    "write_report",
]


@dataclass(frozen=True)
class Report:
    """What `write_report` wrote, and the notices about its input."""

    html_path: Path
    markdown_path: Path
    figure_paths: list[Path]
    notices: list[str]


def write_report(
    runs: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] = "report.html",
    *,
    bleu_limit: int = BLEU_LIMIT,
) -> Report:
    """Write the report over `runs` to `out` (HTML), its Markdown twin beside it (.md), and the
    twin's figures as PNG files beside that."""
    from passk.records.files import check_writable, write_text_atomic

    if not runs:
        raise InputError("give at least one run directory")
    html_path = Path(out)
    markdown_path = html_path.with_suffix(".md")
    if markdown_path == html_path:
        raise InputError(f"--out {html_path}: name the HTML file, e.g. report.html")
    check_writable(html_path)
    sections, notices = build_report(runs, bleu_limit=bleu_limit)
    figures = {f.slug: f for f in _figures(sections)}
    figure_paths = {slug: html_path.with_name(f"{html_path.stem}-{slug}.png") for slug in figures}
    for slug, figure in figures.items():
        _write_bytes(figure_paths[slug], figure.png)
    write_text_atomic(html_path, render_html(sections))
    write_text_atomic(markdown_path, render_markdown(sections, figure_paths))
    return Report(html_path, markdown_path, list(figure_paths.values()), notices)


def _figures(sections: list[Section]) -> Iterable[Figure]:
    for section in sections:
        for block in section.blocks:
            if isinstance(block, Figure):
                yield block


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as e:
        raise OutputError(f"{path}: cannot write: {e.strerror}") from None
