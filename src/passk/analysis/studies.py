"""The numbers and figures of the paper's limitation studies (Chen et al. 2021, sections 6-7).

Pure functions from result rows (dicts as in results.jsonl: `task_id`, `passed`, `result`,
`completion`, ...) to each study's numbers, and figure builders that take those numbers and
return PNG bytes (matplotlib is imported inside them: the `analysis` extra).

- Chained components (`chained`): pass rate and pass@k per chain length, and the factor by which
  the pass rate falls per added component (the paper: roughly 2-3x), plotted on a log axis.
- Misalignment (`humaneval-misaligned:VARIANT`): pass@1 of the correct, buggy and
  buggy+instruction variants per model, and, for models with a parameter count, the gap between
  correct and buggy context against model size (the paper: it grows with size).
- Insecure crypto (`crypto`): per prompt and overall, the fraction of samples that run and the
  fraction that are insecure, each sample classified by `passk.benchmarks.crypto.judge`: from
  its sandbox verdict where it ran, from its source where it did not.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from passk.analysis.plots import human_count, line_plot, new_figure, png_bytes
from passk.benchmarks import crypto
from passk.benchmarks.chained import chain_length
from passk.benchmarks.misaligned import VARIANTS
from passk.errors import InputError
from passk.metrics import mean_pass_at_k
from passk.records import Result
from passk.records.result import pass_counts

Row = Mapping[str, Any]


def task_counts(rows: Iterable[Row]) -> dict[str, tuple[int, int]]:
    """task_id -> (samples, samples passed).

    >>> task_counts([{"task_id": "a", "passed": True}, {"task_id": "a", "passed": False}])
    {'a': (2, 1)}
    """
    return pass_counts(Result.from_row(row) for row in rows)


def pass_at(counts: Iterable[tuple[int, int]], k: int) -> float | None:
    """Mean unbiased pass@k over problems, or None when a problem has fewer than k samples."""
    pairs = list(counts)
    if not pairs or min(n for n, _ in pairs) < k:
        return None
    return mean_pass_at_k([n for n, _ in pairs], [c for _, c in pairs], k)


# --- Chained components ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChainPoint:
    """One chain length's results: samples and passes, and pass@k for the ks asked."""

    length: int
    problems: int
    samples: int
    passed: int
    pass_at_k: Mapping[int, float | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 <= self.passed <= self.samples or self.problems < 1:
            raise ValueError(f"bad counts for chain length {self.length}")

    @property
    def pass_rate(self) -> float:
        return self.passed / self.samples


def chained_curve(rows: Iterable[Row], ks: Sequence[int] = (1,)) -> list[ChainPoint]:
    """Pass rate and pass@k for each chain length in the rows, shortest first."""
    by_length: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for task, counts in task_counts(rows).items():
        by_length[chain_length(task)].append(counts)
    return [
        ChainPoint(
            length=length,
            problems=len(counts),
            samples=sum(n for n, _ in counts),
            passed=sum(c for _, c in counts),
            pass_at_k={k: pass_at(counts, k) for k in ks},
        )
        for length, counts in sorted(by_length.items())
    ]


def drop_per_component(points: Sequence[ChainPoint]) -> float | None:
    """The factor by which the pass rate falls per added component: exp(-slope) of a least
    squares line through log(pass rate) against chain length, over lengths with any pass.
    None with fewer than two such lengths.

    >>> points = [ChainPoint(k, 1, 800, 800 // 2 ** (k - 1)) for k in (1, 2, 3, 4)]
    >>> round(drop_per_component(points), 6)
    2.0
    """
    xy = [(p.length, math.log(p.pass_rate)) for p in points if p.passed > 0]
    if len(xy) < 2:
        return None
    mean_x = sum(x for x, _ in xy) / len(xy)
    mean_y = sum(y for _, y in xy) / len(xy)
    sxx = sum((x - mean_x) ** 2 for x, _ in xy)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in xy)
    return math.exp(-sxy / sxx)


def chained_figure(curves: Mapping[str, Sequence[ChainPoint]], *, k: int | None = None) -> bytes:
    """Pass rate (or pass@k) against chain length on a log axis, one line per model; lengths
    where nothing passed cannot sit on a log axis and are left out of the line."""
    figure, axes = new_figure(
        "Chained components: pass rate against chain length",
        "components in the chain",
        f"pass@{k}" if k else "pass rate (share of samples)",
    )
    for model, points in curves.items():
        values = [(p.length, p.pass_at_k.get(k) if k else p.pass_rate) for p in points]
        shown = [(x, y) for x, y in values if y]
        drop = drop_per_component(points)
        note = f" (÷{drop:.2g} a component)" if drop else "" if shown else " (none passed)"
        axes.plot([x for x, _ in shown], [y for _, y in shown], marker="o", label=model + note)
    axes.set_yscale("log")
    axes.yaxis.set_major_formatter(_log_percent())
    axes.xaxis.set_major_locator(_integer_locator())
    lengths = [p.length for points in curves.values() for p in points]
    if lengths:
        axes.set_xlim(min(lengths) - 0.5, max(lengths) + 0.5)
    if not any(len(line.get_xdata()) for line in axes.get_lines()):
        axes.set_ylim(1e-3, 1)
        axes.text(0.5, 0.5, "no sample passed", transform=axes.transAxes, ha="center")
    if curves:
        axes.legend(fontsize="small")
    return png_bytes(figure)


# --- Misalignment ---------------------------------------------------------------------------


def misalignment_pass_at_1(
    runs: Mapping[str, Mapping[str, Iterable[Row]]],
) -> dict[str, dict[str, float]]:
    """model -> variant -> pass@1, from each model's rows of each variant it was run on."""
    table: dict[str, dict[str, float]] = {}
    for model, variants in runs.items():
        unknown = set(variants) - set(VARIANTS)
        if unknown:
            raise InputError(
                f"{model}: unknown misalignment variant {sorted(unknown)[0]!r}; "
                f"expected {', '.join(VARIANTS)}"
            )
        table[model] = {}
        for variant in VARIANTS:
            if variant in variants:
                value = pass_at(task_counts(variants[variant]).values(), 1)
                if value is not None:
                    table[model][variant] = value
    return table


@dataclass(frozen=True)
class MisalignmentGap:
    """How much buggy context costs one model: pass@1 with correct minus with buggy examples."""

    model: str
    parameters: float
    correct: float
    buggy: float
    instructed: float | None  # buggy examples plus the instruction, when that variant ran

    @property
    def gap(self) -> float:
        return self.correct - self.buggy

    @property
    def instructed_gap(self) -> float | None:
        return None if self.instructed is None else self.correct - self.instructed


def misalignment_gaps(
    table: Mapping[str, Mapping[str, float]], parameters: Mapping[str, float]
) -> list[MisalignmentGap]:
    """The gaps of the models with a parameter count and both the correct and buggy variants,
    smallest model first."""
    gaps = [
        MisalignmentGap(
            model,
            parameters[model],
            scores["correct"],
            scores["buggy"],
            scores.get("buggy+instruction"),
        )
        for model, scores in table.items()
        if model in parameters and "correct" in scores and "buggy" in scores
    ]
    return sorted(gaps, key=lambda g: (g.parameters, g.model))


def misalignment_figure(table: Mapping[str, Mapping[str, float]]) -> bytes:
    """pass@1 of the three variants side by side, one group of bars per model."""
    return _bar_plot(
        {model: {v: scores[v] for v in VARIANTS if v in scores} for model, scores in table.items()},
        title="Misalignment: pass@1 with correct or buggy examples in the prompt",
        ylabel="pass@1",
    )


def misalignment_gap_figure(gaps: Sequence[MisalignmentGap]) -> bytes:
    """pass@1 lost to buggy context against model size (log axis)."""
    series = {"correct - buggy": [(g.parameters, g.gap) for g in gaps]}
    instructed = [(g.parameters, gap) for g in gaps if (gap := g.instructed_gap) is not None]
    if instructed:
        series["correct - buggy+instruction"] = instructed
    return line_plot(
        series,
        title="Misalignment: the cost of buggy examples against model size",
        xlabel="parameters",
        ylabel="pass@1 lost",
        logx=True,
        x_format=human_count,
    )


# --- Insecure crypto ------------------------------------------------------------------------


@dataclass(frozen=True)
class CryptoCounts:
    """Samples of one prompt (or all): how many ran, how many were insecure and how we know."""

    samples: int = 0
    ran: int = 0
    insecure_run: int = 0  # ran and used insecure parameters (the sandbox's verdict)
    insecure_static: int = 0  # did not run; its source asks for insecure parameters

    @property
    def insecure(self) -> int:
        return self.insecure_run + self.insecure_static

    @property
    def ran_fraction(self) -> float:
        return self.ran / self.samples if self.samples else 0.0

    @property
    def insecure_fraction(self) -> float:
        return self.insecure / self.samples if self.samples else 0.0

    def add(self, verdict: crypto.CryptoVerdict) -> CryptoCounts:
        return CryptoCounts(
            self.samples + 1,
            self.ran + verdict.ran,
            self.insecure_run + (verdict.insecure and verdict.how == "run"),
            self.insecure_static + (verdict.insecure and verdict.how == "static"),
        )


@dataclass(frozen=True)
class CryptoSummary:
    per_prompt: Mapping[str, CryptoCounts]
    overall: CryptoCounts


def crypto_verdicts(
    rows: Iterable[Row], prompts: Mapping[str, str] | None = None
) -> list[crypto.CryptoVerdict]:
    """Each row's classification, in order. `prompts` (task_id -> prompt) defaults to the crypto
    benchmark's; the static check reads prompt + completion, or a row's whole `solution`."""
    if prompts is None:
        prompts = {t: p.prompt for t, p in crypto.load_crypto().problems.items()}
    verdicts = []
    for row in rows:
        if "solution" in row:
            program = row["solution"]
        else:
            program = prompts.get(row["task_id"], "") + row.get("completion", "")
        verdicts.append(crypto.judge(row["result"], program))
    return verdicts


def crypto_summary(rows: Iterable[Row], prompts: Mapping[str, str] | None = None) -> CryptoSummary:
    """Per prompt and overall: samples, how many ran, how many were insecure (run or static)."""
    rows = list(rows)
    per_prompt: dict[str, CryptoCounts] = {}
    overall = CryptoCounts()
    for row, verdict in zip(rows, crypto_verdicts(rows, prompts), strict=True):
        per_prompt[row["task_id"]] = per_prompt.get(row["task_id"], CryptoCounts()).add(verdict)
        overall = overall.add(verdict)
    return CryptoSummary(dict(sorted(per_prompt.items())), overall)


def crypto_figure(summary: CryptoSummary) -> bytes:
    """Per prompt and overall: the share of samples that run and the share that are insecure."""
    groups = {**summary.per_prompt, "overall": summary.overall}
    return _bar_plot(
        {
            task.removeprefix("crypto/"): {
                "runs": counts.ran_fraction,
                "insecure": counts.insecure_fraction,
            }
            for task, counts in groups.items()
        },
        title="Insecure crypto: samples that run, and samples that are insecure",
        ylabel="share of samples",
    )


# --- Figures --------------------------------------------------------------------------------


def _bar_plot(groups: Mapping[str, Mapping[str, float]], *, title: str, ylabel: str) -> bytes:
    """Grouped bars: one group per key of `groups`, one bar per series inside, values as %."""
    figure, axes = new_figure(title, "", ylabel)
    series = list(dict.fromkeys(name for values in groups.values() for name in values))
    width = 0.8 / max(len(series), 1)
    for i, name in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ys = [values.get(name, math.nan) for values in groups.values()]
        axes.bar(xs, ys, width=width, label=name)
    tilted = len(groups) > 4 or max(map(len, groups), default=0) > 12
    axes.set_xticks(
        range(len(groups)),
        list(groups),
        rotation=20 if tilted else 0,
        ha="right" if tilted else "center",
    )
    axes.yaxis.set_major_formatter(_percent())
    axes.set_ylim(0, 1)
    if series:
        axes.legend(fontsize="small")
    return png_bytes(figure)


def _percent() -> Any:
    from matplotlib.ticker import PercentFormatter

    return PercentFormatter(1.0)


def _log_percent() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda y, _: f"{100 * y:g}%")  # 0.1%, not PercentFormatter's 0%


def _integer_locator() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)
