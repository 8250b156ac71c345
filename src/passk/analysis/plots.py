"""The report's figures as PNG bytes: line plots (pass@k against k, temperature or model size;
Chen et al. 2021, Figures 5-7) and overlaid histograms (BLEU by outcome, Figure 8).

matplotlib's object-oriented API with its Agg canvas: no pyplot, no global figure state, no
display needed. matplotlib is imported inside each function (the `analysis` extra), so
importing this module costs nothing.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Series = Mapping[str, Sequence[tuple[float, float]]]
"""Named lines: label -> [(x, y), ...]."""

WIDTH, HEIGHT, DPI = 7.0, 4.2, 110  # inches, dots per inch: 770 x 462 pixels


def line_plot(
    series: Series,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    legend_title: str | None = None,
    logx: bool = False,
    percent: bool = True,
    steps: bool = False,
    x_format: Callable[[float], str] | None = None,
) -> bytes:
    """One line per series, markers on the points, a legend when there are several lines."""
    figure, axes = new_figure(title, xlabel, ylabel)
    many = sum(len(points) for points in series.values()) > 40
    for label, points in series.items():
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        if steps:
            axes.step(xs, ys, where="post", label=label, linewidth=2)
        else:
            axes.plot(xs, ys, marker="" if many else "o", markersize=4, label=label, linewidth=2)
    xs = [p[0] for points in series.values() for p in points]
    _format_axes(axes, xs, logx=logx, percent=percent, x_format=x_format)
    if len(series) > 1 or legend_title:
        axes.legend(title=legend_title, fontsize="small", title_fontsize="small")
    return png_bytes(figure)


def histogram_plot(groups: Mapping[str, Sequence[float]], *, title: str, xlabel: str) -> bytes:
    """Overlaid histograms, each normalised to its own count, so that classes of different
    sizes compare by shape; the legend gives each class's count."""
    import numpy as np

    figure, axes = new_figure(title, xlabel, "share of the class's samples")
    values = [v for group in groups.values() for v in group]
    bins = np.linspace(min(values, default=0.0), max(values, default=1.0) or 1.0, 21)
    for label, group in groups.items():
        if group:
            weights = np.full(len(group), 1.0 / len(group))
            axes.hist(
                group, bins=bins, weights=weights, alpha=0.55, label=f"{label} ({len(group)})"
            )
    _format_axes(axes, [0.5], logx=False, percent=True)
    axes.legend(fontsize="small")
    return png_bytes(figure)


def human_count(value: float) -> str:
    """A parameter count as people write it.

    >>> human_count(679e6), human_count(12e9), human_count(85_000)
    ('679M', '12B', '85K')
    """
    for size, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def new_figure(title: str, xlabel: str, ylabel: str) -> tuple[Any, Any]:
    """A titled figure of the report's size with labelled, gridded axes: (figure, axes)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    return figure, axes


def _format_axes(
    axes: Any,
    xs: Sequence[float],
    *,
    logx: bool,
    percent: bool,
    x_format: Callable[[float], str] | None = None,
) -> None:
    from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

    axes.xaxis.set_major_formatter(
        FuncFormatter(lambda x, _: x_format(x) if x_format else f"{x:g}")
    )
    low, high = min(xs, default=1.0), max(xs, default=1.0)
    # Under about a decade and a log axis has one labelled tick, or minor labels at odd heights.
    if logx and low > 0 and high / low >= 20:
        axes.set_xscale("log")  # labelled 1, 10, 100 by the formatter, not 10^0, 10^1, 10^2
    elif all(float(x).is_integer() for x in xs):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    if percent:
        axes.yaxis.set_major_formatter(PercentFormatter(1.0))


def png_bytes(figure: Any) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    # No timestamp or version in the file: the same data gives the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
