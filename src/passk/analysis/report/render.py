"""Rendering the report's sections: one self-contained HTML page, and a Markdown twin.

The HTML needs nothing from the network: figures are PNG data URIs, the CSS and the
table-sorting script are inline, and a Content-Security-Policy forbids loading anything else.
The Markdown links its figures as PNG files written beside it.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from passk.analysis.report.document import (
    Block,
    Cell,
    Code,
    Figure,
    Num,
    Para,
    Section,
    Table,
)

TITLE = "passk report"
_CODE_SPAN = re.compile(r"`([^`]+)`")


def render_html(sections: list[Section]) -> str:
    """The whole page: inline CSS, figures as data URIs, a small inline sorting script."""
    body = "".join(_html_section(section) for section in sections)
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
        f"<title>{TITLE}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<h1>{TITLE}</h1>\n{body}</main>\n<script>{_JS}</script>\n</body>\n</html>\n"
    )


def _html_section(section: Section) -> str:
    tag = f"h{section.level}"
    blocks = "".join(_html_block(block) for block in section.blocks)
    return f"<section>\n<{tag}>{_inline_html(section.title)}</{tag}>\n{blocks}</section>\n"


def _html_block(block: Block) -> str:
    if isinstance(block, Para):
        cls = " class='notice' role='note'" if block.notice else ""
        return f"<p{cls}>{'⚠ ' if block.notice else ''}{_inline_html(block.text)}</p>\n"
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Figure):
        data = base64.b64encode(block.png).decode("ascii")
        alt = html.escape(block.caption, quote=True)
        return (
            f"<figure><img src='data:image/png;base64,{data}' alt='{alt}'>"
            f"<figcaption>{alt}</figcaption></figure>\n"
        )
    if isinstance(block, Code):
        detail = f": <code>{html.escape(block.detail)}</code>" if block.detail else ""
        note = f"<p class='note'>{html.escape(block.note)}</p>" if block.note else ""
        return (
            f"<div class='sample'><p class='label'>{html.escape(block.label)}{detail}</p>"
            f"<pre><code>{html.escape(block.text)}</code></pre>{note}</div>\n"
        )
    inner = "".join(_html_block(b) for b in block.blocks)
    return f"<details><summary>{html.escape(block.summary)}</summary>\n{inner}</details>\n"


def _html_table(table: Table) -> str:
    cls = " class='sortable'" if table.sortable else ""
    hint = " title='click to sort'" if table.sortable else ""
    head = "".join(f"<th scope='col'{hint}>{html.escape(h)}</th>" for h in table.headers)
    body = "".join(
        "<tr>" + "".join(_html_cell(cell) for cell in row) + "</tr>\n" for row in table.rows
    )
    return f"<table{cls}>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def _html_cell(cell: Cell) -> str:
    if isinstance(cell, Num):
        return f"<td class='num' data-v='{cell.value!r}'>{html.escape(cell.text)}</td>"
    return f"<td>{html.escape(cell)}</td>"


def _inline_html(text: str) -> str:
    """Escaped text with `code` spans as <code>."""
    parts = _CODE_SPAN.split(text)
    return "".join(
        f"<code>{html.escape(p)}</code>" if i % 2 else html.escape(p) for i, p in enumerate(parts)
    )


def render_markdown(sections: list[Section], figure_paths: dict[str, Path]) -> str:
    """The same report as Markdown; figures are the PNG files beside it."""
    parts = [f"# {TITLE}\n"]
    for section in sections:
        parts.append(f"{'#' * section.level} {_inline_md(section.title)}\n")
        parts += [_md_block(block, figure_paths) for block in section.blocks]
    return "\n".join(parts)


def _md_block(block: Block, figure_paths: dict[str, Path]) -> str:
    if isinstance(block, Para):
        return (
            f"> **Warning:** {_inline_md(block.text)}\n"
            if block.notice
            else f"{_inline_md(block.text)}\n"
        )
    if isinstance(block, Table):
        return _md_table(block)
    if isinstance(block, Figure):
        return f"![{_escape_md(block.caption)}]({figure_paths[block.slug].name})\n"
    if isinstance(block, Code):
        detail = f": {_md_code_span(block.detail)}" if block.detail else ""
        fence = "`" * max(3, _longest_backtick_run(block.text) + 1)
        note = f"\n*{block.note}*\n" if block.note else ""
        return f"{_escape_md(block.label)}{detail}\n\n{fence}python\n{block.text.removesuffix(chr(10))}\n{fence}\n{note}"
    inner = "\n".join(_md_block(b, figure_paths) for b in block.blocks)
    return f"**{_escape_md(block.summary)}**\n\n{inner}"


def _md_table(table: Table) -> str:
    def cell(c: Cell) -> str:
        text = c.text if isinstance(c, Num) else c
        return _escape_md(text.replace("\n", " "))

    lines = [
        "| " + " | ".join(_escape_md(h) for h in table.headers) + " |",
        "| "
        + " | ".join("---:" if _numeric(table, i) else "---" for i in range(len(table.headers)))
        + " |",
    ]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n"


def _numeric(table: Table, column: int) -> bool:
    return any(isinstance(row[column], Num) for row in table.rows)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&])")


def _escape_md(text: str) -> str:
    """Markdown text that shows as written: punctuation that Markdown or HTML would act on
    is backslash-escaped."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def _inline_md(text: str) -> str:
    parts = _CODE_SPAN.split(text)
    return "".join(_md_code_span(p) if i % 2 else _escape_md(p) for i, p in enumerate(parts))


def _md_code_span(text: str) -> str:
    fence = "`" * (_longest_backtick_run(text) + 1)
    return f"{fence} {text.replace(chr(10), ' ')} {fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430;
  background: #fafbfc; margin: 0; }
main { max-width: 1080px; margin: 0 auto; padding: 1.5rem 2rem 4rem; }
h1 { font-size: 1.9rem; margin-bottom: 0.2rem; }
h2 { border-bottom: 2px solid #d0d7de; padding-bottom: 0.2rem; margin-top: 2.5rem; }
h3 { margin-top: 1.6rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; background: #fff; font-size: 0.9rem; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; text-align: left;
  vertical-align: top; }
th { background: #eef1f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th::after { content: " \\2195"; color: #8c959f; }
table.sortable th[aria-sort=ascending]::after { content: " \\2191"; color: #1d2430; }
table.sortable th[aria-sort=descending]::after { content: " \\2193"; color: #1d2430; }
p.notice { background: #fff4d6; border-left: 4px solid #d4a72c; padding: 0.4rem 0.7rem; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #d0d7de; background: #fff; }
figcaption { color: #57606a; font-size: 0.85rem; }
details { background: #fff; border: 1px solid #d0d7de; border-radius: 4px;
  padding: 0.3rem 0.7rem; margin: 0.3rem 0; }
summary { cursor: pointer; font-weight: 600; }
pre { background: #f3f5f7; padding: 0.5rem 0.7rem; overflow-x: auto; font-size: 0.82rem; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
p code { background: #eef1f4; padding: 0 0.25rem; border-radius: 3px; overflow-wrap: anywhere; }
p.label { margin-bottom: 0.2rem; }
p.note { color: #57606a; font-style: italic; font-size: 0.85rem; }
"""

_JS = """
(function () {
  function key(cell) {
    var v = cell.getAttribute("data-v");
    return v === null ? cell.textContent : parseFloat(v);
  }
  function compare(x, y) {
    if (typeof x === "number" && typeof y === "number") { return x - y; }
    return String(x).localeCompare(String(y), undefined, {numeric: true});
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var headers = table.querySelectorAll("th");
    headers.forEach(function (th, column) {
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var c = compare(key(a.cells[column]), key(b.cells[column]));
          return ascending ? c : -c;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
"""
