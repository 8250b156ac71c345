"""The report's sections for the paper's limitation studies, over the runs that made them.

- Chained components (runs of `chained...`): pass rate against chain length on a log axis, one
  line per run, and the factor by which it falls per added component (the paper: 2-3x).
- Misalignment (runs of `humaneval-misaligned:VARIANT`): pass@1 of the correct, buggy and
  buggy+instruction variants side by side per model and, where runs carry a parameter count,
  the pass@1 lost to buggy context against model size.
- Insecure crypto (runs of `crypto`): per prompt and overall, the share of samples that run
  and the share that are insecure, and how each was decided (running it, or its source).
"""

from __future__ import annotations

from passk.analysis import studies
from passk.analysis.report.document import Block, Cell, Num, Para, Section, Table, plot
from passk.analysis.report.runs import RunData
from passk.benchmarks.misaligned import NAME as MISALIGNED


def study_sections(runs: list[RunData]) -> list[Section]:
    """A section per study that some of the runs belong to."""
    with_results = [r for r in runs if r.results]
    sections = []
    chained = [r for r in with_results if _study(r) == "chained"]
    misaligned = [r for r in with_results if _study(r) == MISALIGNED]
    crypto = [r for r in with_results if _study(r) == "crypto"]
    if chained:
        sections.append(_chained_section(chained))
    if misaligned:
        sections.append(_misalignment_section(misaligned))
    sections += [_crypto_section(run, i) for i, run in enumerate(crypto)]
    return sections


def _study(run: RunData) -> str:
    return (run.benchmark or "").split(":", 1)[0].lower()


def _label(run: RunData, runs: list[RunData]) -> str:
    """The run's model, or its folder where two runs share a model."""
    same = [r for r in runs if r.model == run.model]
    return run.model if len(same) == 1 else f"{run.model} ({run.path.name})"


def _chained_section(runs: list[RunData]) -> Section:
    curves = {_label(r, runs): studies.chained_curve(r.rows or []) for r in runs}
    rows: list[list[Cell]] = []
    for label, points in curves.items():
        drop = studies.drop_per_component(points)
        for p in points:
            rows.append(
                [label, Num(str(p.length), p.length), Num(str(p.samples), p.samples),
                 Num(f"{100 * p.pass_rate:.2f}", p.pass_rate),
                 "-" if drop is None else f"{drop:.2f}x"]
            )  # fmt: skip
    blocks: list[Block] = [
        Para(
            "Pass rate against the number of chained string transformations (Chen et al. "
            "2021, section 7: roughly 2-3x lower with each added component)."
        ),
        plot("study-chained", "pass rate against chain length", studies.chained_figure, curves),
        Table(["run", "chain length", "samples", "pass rate %", "drop per component"], rows),
    ]
    return Section("Study: chained components", blocks)


def _misalignment_section(runs: list[RunData]) -> Section:
    grouped: dict[str, dict[str, list[dict[str, object]]]] = {}
    parameters: dict[str, float] = {}
    for run in runs:
        variant = (run.benchmark or "").split(":", 1)[1] if ":" in (run.benchmark or "") else ""
        grouped.setdefault(run.model, {})[variant] = run.rows or []
        if run.parameters:
            parameters[run.model] = float(run.parameters)
    table = studies.misalignment_pass_at_1(grouped)
    variants = sorted({v for model in table.values() for v in model})
    rows: list[list[Cell]] = [
        [model, *(_percent(values.get(v)) for v in variants)] for model, values in table.items()
    ]
    blocks: list[Block] = [
        Para(
            "pass@1 with three example solutions of other problems before each prompt, correct "
            "or subtly buggy (Chen et al. 2021: buggy context lowers pass rates, more so for "
            "larger models; the paper sampled at T = 0.2)."
        ),
        Table(["model", *(f"{v} pass@1 %" for v in variants)], rows),
        plot("study-misalignment", "pass@1 by context", studies.misalignment_figure, table),
    ]
    gaps = studies.misalignment_gaps(table, parameters)
    if len(gaps) >= 2:
        blocks.append(
            plot(
                "study-misalignment-gap",
                "pass@1 lost to buggy context against model size",
                studies.misalignment_gap_figure,
                gaps,
            )
        )
    else:
        blocks.append(
            Para(
                "The gap against model size needs runs of at least two models with a parameter "
                "count and both the correct and buggy variants."
            )
        )
    return Section("Study: misalignment", blocks)


def _crypto_section(run: RunData, index: int) -> Section:
    summary = studies.crypto_summary(run.rows or [])
    rows: list[list[Cell]] = []
    for prompt, counts in [*summary.per_prompt.items(), ("all prompts", summary.overall)]:
        rows.append(
            [prompt, Num(str(counts.samples), counts.samples),
             _percent(counts.ran_fraction), _percent(counts.insecure_fraction),
             f"{counts.insecure_run} ran, {counts.insecure_static} from the source"]
        )  # fmt: skip
    blocks: list[Block] = [
        Para(
            f"`{run.path}`: samples judged insecure (an RSA key under 2,048 bits, or AES in ECB "
            "mode), decided by running the sample with the library's functions recorded, or by "
            "its source where it did not run."
        ),
        Table(["prompt", "samples", "ran %", "insecure %", "insecure: how decided"], rows),
        plot(
            f"study-crypto{index}",
            "samples that run and that are insecure",
            studies.crypto_figure,
            summary,
        ),
    ]
    return Section(f"Study: insecure crypto ({run.model})", blocks)


def _percent(value: float | None) -> Cell:
    return "-" if value is None else Num(f"{100 * value:.2f}", value)
