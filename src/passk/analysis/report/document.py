"""The report as a document: sections of paragraphs, tables, figures and samples.

The section builders (`sections`) make these blocks; the renderers (`render`) turn them into HTML
and Markdown. A block knows nothing of either format.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Num:
    """A table cell shown as `text` and sorted by `value`."""

    text: str
    value: float


Cell = str | Num


@dataclass
class Para:
    text: str  # `backticks` mark code
    notice: bool = False


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell]]
    sortable: bool = False


@dataclass
class Figure:
    slug: str  # unique in the report: names the Markdown twin's PNG file
    caption: str
    png: bytes


@dataclass
class Code:
    label: str
    text: str
    detail: str = ""  # untrusted one-line text shown as code after the label (an error)
    note: str = ""


@dataclass
class Details:
    summary: str
    blocks: list[Block]


Block = Para | Table | Figure | Code | Details


@dataclass
class Section:
    title: str
    blocks: list[Block]
    level: int = 2


def clip(text: str, limit: int) -> tuple[str, str]:
    """The text cut to `limit` characters, and a note saying so when it was cut."""
    if len(text) <= limit:
        return text, ""
    return text[:limit], f"truncated: {limit:,} of {len(text):,} characters shown"
