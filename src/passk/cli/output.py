"""Terminal output: the pass@k table and progress bars (rich)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} samples/s" if speed else "- samples/s")


class _TokenRateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        tokens, elapsed = task.fields.get("tokens", 0), task.elapsed or 0
        return Text(f"{tokens / elapsed:,.0f} tokens/s" if elapsed > 0 else "- tokens/s")


PLAIN_INTERVAL_S = 5.0  # between progress lines when stderr is not a terminal


class PlainProgress:
    """Progress for logs (CI, `make run > log`): one line on stderr every PLAIN_INTERVAL_S
    seconds, e.g. `sampling: 120/820 (14.6%), 11.9 samples/s, 812 tokens/s, ETA 0:00:59`;
    nothing for steps that end sooner."""

    def __init__(self, what: str, interval_s: float | None = None) -> None:
        self.what = what
        self.interval_s = PLAIN_INTERVAL_S if interval_s is None else interval_s
        self.started = self.last = time.monotonic()
        self.first_done: int | None = None

    def __call__(self, done: int, total: int, tokens: int | None = None) -> None:
        now = time.monotonic()
        if self.first_done is None:  # what a resumed run had already done is not its speed
            self.first_done = done
        if now - self.last < self.interval_s or total <= 0:
            return
        self.last = now
        rate = (done - self.first_done) / max(now - self.started, 1e-9)
        line = f"{self.what}: {done}/{total} ({100 * done / total:.1f}%), {rate:,.1f} samples/s"
        if tokens is not None:
            line += f", {tokens / max(now - self.started, 1e-9):,.0f} tokens/s"
        if rate > 0:
            line += f", ETA {_clock((total - done) / rate)}"
        print(line, file=sys.stderr, flush=True)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


@contextmanager
def generation_progress(enabled: bool) -> Iterator[Callable[[int, int, int], None] | None]:
    """A progress bar for sampling on stderr (samples/s and tokens/s); yields update(done,
    total, tokens); plain lines when stderr is not a terminal; None when disabled."""
    if not enabled:
        yield None
        return
    if not sys.stderr.isatty():
        yield PlainProgress("sampling")
        return
    progress = Progress(
        TextColumn("sampling"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        _TokenRateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    task = progress.add_task("sampling", total=None, tokens=0)

    def update(done: int, total: int, tokens: int) -> None:
        progress.update(task, completed=done, total=total, tokens=tokens)

    with progress:
        yield update


@contextmanager
def evaluation_progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar for evaluation; plain lines when stderr is not a terminal; None when
    disabled."""
    if not enabled:
        yield None
        return
    if not sys.stderr.isatty():
        yield PlainProgress("evaluating")
        return
    with progress_bar("evaluating") as update:
        yield update


def print_generation(result: Any, console: Console | None = None) -> None:
    console = console or Console(highlight=False, soft_wrap=True)
    rate = result.tokens / result.seconds if result.seconds > 0 else 0.0
    console.print(
        f"{result.model_id}: {result.samples} samples, {result.tokens} new tokens in "
        f"{result.seconds:.1f} s ({rate:,.0f} tokens/s)",
        markup=False,
    )
    console.print(f"samples: {result.samples_path}", markup=False)


@contextmanager
def progress_bar(description: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr; yields update(done, total)."""
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    task = progress.add_task(description, total=None)

    def update(done: int, total: int) -> None:
        progress.update(task, completed=done, total=total)

    with progress:
        yield update


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def print_summary(
    summary: dict[str, Any], results: Path, summary_path: Path, console: Console | None = None
) -> None:
    """The pass@k table, coverage and outcome counts of an evaluation."""
    console = console or Console(highlight=False, soft_wrap=True)
    spp = summary["samples_per_problem"]
    per = str(spp["min"]) if spp["min"] == spp["max"] else f"{spp['min']}-{spp['max']}"
    header = (
        f"{summary['benchmark']}: {summary['problems']} of {summary['benchmark_problems']} "
        f"problems, {summary['samples']} samples ({per} per problem)"
    )
    console.print(header, markup=False)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("metric")
    table.add_column("%", justify="right")
    table.add_column(f"{100 * summary['confidence']:.0f}% CI", justify="right")
    for name, value in summary["pass_at_k"].items():
        if value is None:
            table.add_row(name, "-", summary["not_computable"][name])
        else:
            low, high = summary["confidence_intervals"][name]
            table.add_row(name, _percent(value), f"{_percent(low)} - {_percent(high)}")
    console.print(table)
    outcomes = ", ".join(f"{k} {v}" for k, v in summary["outcomes"].items())
    console.print(f"outcomes: {outcomes}", markup=False)
    if summary["errors"]:
        errors = ", ".join(f"{k} {v}" for k, v in summary["errors"].items())
        console.print(f"errors: {errors}", markup=False)
    console.print(f"results: {results}", markup=False)
    console.print(f"summary: {summary_path}", markup=False)


@contextmanager
def training_progress(enabled: bool) -> Iterator[Callable[[dict[str, Any]], None] | None]:
    """Training: a progress bar with loss, tokens/s and ETA on stderr, or plain lines (the start,
    each validation) when stderr is not a terminal; yields on_row for `passk.training.train`."""
    if not enabled:
        yield None
        return
    if not sys.stderr.isatty():

        def plain(row: dict[str, Any]) -> None:
            if row.get("event") == "start":
                print(_start_line(row), file=sys.stderr)
            elif "valid_loss" in row:
                print(_validation_line(row), file=sys.stderr)

        yield plain
        return
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("{task.fields[rate]} tok/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    task = progress.add_task("training", total=None, loss="-", rate="-")

    def update(row: dict[str, Any]) -> None:
        if row.get("event") == "start":
            progress.console.print(_start_line(row), markup=False)
            progress.update(task, completed=row["start_step"], total=row["total_steps"])
        elif "valid_loss" in row:
            progress.console.print(_validation_line(row), markup=False)
        else:
            progress.update(
                task,
                completed=row["step"],
                total=row["total_steps"],
                loss=f"{row['loss']:.3f}",
                rate=f"{row['tokens_per_s']:,.0f}",
            )

    with progress:
        yield update


def _start_line(row: dict[str, Any]) -> str:
    if "task" in row:  # fine-tuning
        too_long = row["train_too_long"] + row["valid_too_long"]
        what = (
            f"fine-tuning {row['model']} ({row['task']}): {row['parameters']:,} parameters, "
            f"{row['train_problems']:,} training and {row['valid_problems']:,} validation "
            f"problems ({too_long:,} longer than the context of {row['context']} left out), "
            f"{row['examples_per_step']} problems/step, peak lr {row['lr']:.3g}"
        )
    else:
        what = (
            f"{row['preset']}: {row['parameters']:,} parameters "
            f"({row['non_embedding_parameters']:,} non-embedding), context {row['context']}, "
            f"{row['tokens_per_step']:,} tokens/step"
        )
    return (
        f"{what} ({row['accumulation']} accumulation x {row['world_size']} processes), "
        f"{row['device']}, {row['autocast']}, steps {row['start_step']}..{row['total_steps']}"
    )


def _validation_line(row: dict[str, Any]) -> str:
    line = f"step {row['step']}: valid loss {row['valid_loss']:.4f}"
    if "best_valid_loss" in row:
        line += f" (best {row['best_valid_loss']:.4f} at step {row['best_step']})"
    return line
