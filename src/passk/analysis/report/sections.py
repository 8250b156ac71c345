"""The report's sections: the runs, comparisons across runs, sweeps, and each run's own.

For each run: its configuration, pass@k with bootstrap intervals (Chen et al. 2021, section
2.1), outcome counts (failures by exception type, timeouts), the paper's figures where their
data exist — ranking one sample out of k (Figure 7), BLEU of correct and incorrect samples
(Figure 8) —, per-problem pass rates (a sortable table) and, for each problem, a failing and a
passing sample with its error. For a temperature sweep: pass@k against k per temperature and the
best temperature per k (Figure 5). Across runs: pass@k side by side (Table 1) and against model
size where runs carry a parameter count (Figure 1).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from passk.analysis.report.document import (
    Block,
    Cell,
    Code,
    Details,
    Num,
    Para,
    Section,
    Table,
    clip,
    plot,
)
from passk.analysis.report.runs import BLEU_LIMIT, RunData, load_run, load_sweep
from passk.analysis.report.studies import study_sections
from passk.errors import InputError
from passk.records import Result
from passk.records.result import pass_counts

TEXT_LIMIT = 2000  # characters of a sample shown in the report
RESULT_LIMIT = 400  # characters of a sample's error shown


def build_report(
    runs: Sequence[str | os.PathLike[str]], *, bleu_limit: int = BLEU_LIMIT
) -> tuple[list[Section], list[str]]:
    """The report's sections and every notice about missing or inconsistent input."""
    loaded = [load_run(path, bleu_limit=bleu_limit) for path in runs]
    notices = [notice for run in loaded for notice in run.notices]
    groups = _by_benchmark(loaded)
    if len(groups) > 1:
        listing = "; ".join(f"{b}: {', '.join(str(r.path) for r in g)}" for b, g in groups.items())
        notices.append(
            f"runs of different benchmarks are not compared in one table ({listing}); "
            "each benchmark's runs are compared among themselves"
        )
    sweeps = _sweeps(loaded, notices)
    sections = [_overview(loaded, notices)]
    compared = [(name, group) for name, group in groups.items() if len(group) > 1]
    sections += [_comparison(name, group, i) for i, (name, group) in enumerate(compared)]
    sections += [_sweep_section(path, data, i) for i, (path, data) in enumerate(sweeps.items())]
    sections += study_sections(loaded)
    for i, run in enumerate(loaded):
        sections += _run_sections(run, i)
    if not any(run.results or run.config for run in loaded) and not sweeps:
        raise InputError("nothing to report: " + "; ".join(notices))
    return sections, notices


def _by_benchmark(runs: list[RunData]) -> dict[str, list[RunData]]:
    groups: dict[str, list[RunData]] = {}
    for run in runs:
        if run.summary is not None:
            groups.setdefault(run.benchmark or "unknown benchmark", []).append(run)
    return groups


def _sweeps(runs: list[RunData], notices: list[str]) -> dict[Path, dict[str, Any]]:
    found: dict[Path, dict[str, Any]] = {}
    # A sweep's folder and its temperatures' folders all lead to one sweep.json.
    paths = {run.sweep_path.resolve(): run.sweep_path for run in runs if run.sweep_path}
    for path in paths.values():
        data = load_sweep(path, notices)
        if data is not None:
            found[path] = data
    return found


def _overview(runs: list[RunData], notices: list[str]) -> Section:
    from passk import __version__

    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    blocks: list[Block] = [Para(f"Generated {when} by passk {__version__}.")]
    rows = [
        [str(r.path), r.benchmark or "-", r.model, _count(r.results), _percent_cell(r, 1)]
        for r in runs
    ]
    blocks.append(Table(["run", "benchmark", "model", "samples", "pass@1 %"], rows))
    blocks += [Para(notice, notice=True) for notice in notices]
    return Section("Runs", blocks)


def _count(rows: list[Any] | None) -> Cell:
    return "-" if rows is None else Num(f"{len(rows):,}", len(rows))


def _percent_cell(run: RunData, k: int, *, interval: bool = False) -> Cell:
    summary = run.summary or {}
    value = (summary.get("pass_at_k") or {}).get(f"pass@{k}")
    if not isinstance(value, int | float):
        return "-"
    text = f"{100 * value:.2f}"
    low_high = (summary.get("confidence_intervals") or {}).get(f"pass@{k}")
    if interval and low_high:
        text += f" ({100 * low_high[0]:.1f} - {100 * low_high[1]:.1f})"
    return Num(text, value)


# ---------------------------------------------------------------------------------------------
# Across runs: Table 1's shape, and pass@k against model size


def _comparison(benchmark: str, runs: list[RunData], index: int) -> Section:
    ks = sorted({_k_of(name) for r in runs for name in (r.summary or {}).get("pass_at_k", {})})
    headers = ["run", "model", "parameters", "T", "n", *(f"pass@{k} % (95% CI)" for k in ks)]
    rows = [
        [
            str(r.path),
            r.model,
            _params_cell(r.parameters),
            "-" if r.temperature is None else f"{r.temperature:g}",
            _samples_per_problem(r),
            *(_percent_cell(r, k, interval=True) for k in ks),
        ]
        for r in runs
    ]
    blocks: list[Block] = [
        Para("pass@k of each run side by side, as in the paper's Table 1."),
        Table(headers, rows, sortable=True),
    ]
    curves = {r.path.name or str(r.path): _pass_at_k_curve(r.results) for r in runs if r.results}
    if len(curves) > 1:
        blocks.append(
            _pass_at_k_plot(
                f"compare{index}-pass-at-k",
                f"pass@k against k, {benchmark}",
                curves,
                title=f"pass@k against k ({benchmark})",
                legend_title="run",
            )
        )
    blocks += _size_blocks(runs, ks, index, benchmark)
    return Section(f"Comparison: {benchmark}", blocks)


def _k_of(name: str) -> int:
    return int(name.removeprefix("pass@"))


def _params_cell(parameters: int | None) -> Cell:
    from passk.analysis.plots import human_count

    return "-" if parameters is None else Num(human_count(parameters), parameters)


def _samples_per_problem(run: RunData) -> str:
    spp = (run.summary or {}).get("samples_per_problem") or {}
    low, high = spp.get("min"), spp.get("max")
    return "-" if low is None else str(low) if low == high else f"{low}-{high}"


def _size_blocks(runs: list[RunData], ks: list[int], index: int, benchmark: str) -> list[Block]:
    sized = sorted((r for r in runs if r.parameters), key=lambda r: r.parameters or 0)
    if len(sized) < 2:
        return [
            Para(
                f"pass@k against model size needs at least two runs with a parameter count "
                f"({len(sized)} of {len(runs)} have one): `parameters` in the run's "
                "config.json, or the model directory (safetensors) on this machine."
            )
        ]
    from passk.analysis.plots import human_count

    series: dict[str, list[tuple[float, float]]] = {}
    for k in ks:
        points = [(float(r.parameters or 0), _value(r, k)) for r in sized]
        if all(v is not None for _, v in points):
            series[f"pass@{k}"] = [(x, float(v or 0.0)) for x, v in points]
    return [
        plot(
            f"compare{index}-model-size",
            f"pass@k against model size, {benchmark}",
            _line,
            series,
            title=f"pass@k against model size ({benchmark})",
            xlabel="parameters",
            ylabel="pass@k",
            logx=True,
            x_format=human_count,
        )
    ]


def _value(run: RunData, k: int) -> float | None:
    value = ((run.summary or {}).get("pass_at_k") or {}).get(f"pass@{k}")
    return float(value) if isinstance(value, int | float) else None


def _pass_at_k_curve(results: list[Result] | None) -> list[tuple[float, float]]:
    """(k, pass@k) at up to 40 ks spread evenly on a log scale from 1 to the smallest n."""
    import numpy as np

    from passk.metrics import mean_pass_at_k

    counts = pass_counts(results or [])
    n, c = [v[0] for v in counts.values()], [v[1] for v in counts.values()]
    smallest = min(n, default=0)
    ks = sorted({int(k) for k in np.geomspace(1, max(smallest, 1), 40).round()})
    return [(k, mean_pass_at_k(n, c, k)) for k in ks if smallest]


# ---------------------------------------------------------------------------------------------
# Figures: drawn where matplotlib is installed, a note where it is not


def _line(series: Any, **options: Any) -> bytes:
    from passk.analysis.plots import line_plot

    return line_plot(series, **options)


def _histogram(groups: Any, **options: Any) -> bytes:
    from passk.analysis.plots import histogram_plot

    return histogram_plot(groups, **options)


def _pass_at_k_plot(
    slug: str, caption: str, series: Any, *, title: str, legend_title: str | None = None
) -> Block:
    return plot(
        slug,
        caption,
        _line,
        series,
        title=title,
        xlabel="k (samples per problem)",
        ylabel="pass@k",
        legend_title=legend_title,
        logx=True,
    )


# ---------------------------------------------------------------------------------------------
# A temperature sweep (Figure 5)


def _sweep_section(path: Path, sweep: dict[str, Any], index: int) -> Section:
    curves = {t: [(float(k), float(v)) for k, v in c] for t, c in sweep["curves"].items()}
    temperatures = sorted(curves, key=float)
    blocks: list[Block] = [
        Para(f"`{path}`: model {sweep.get('model') or '-'}, n = {sweep.get('n', '-')}."),
        _pass_at_k_plot(
            f"sweep{index}-pass-at-k",
            "pass@k against k for each temperature",
            {f"T = {t}": curves[t] for t in temperatures},
            title="pass@k against k for each sampling temperature",
            legend_title="temperature",
        ),
    ]
    best = [(float(k), float(t)) for k, t in sweep.get("best_temperature") or []]
    if best:
        blocks.append(
            plot(
                f"sweep{index}-best-temperature",
                "the best temperature for each k",
                _line,
                {"best temperature": best},
                title="Best sampling temperature for each k",
                xlabel="k (samples per problem)",
                ylabel="temperature",
                logx=True,
                percent=False,
                steps=True,
            )
        )
    blocks.append(_sweep_table(curves, temperatures, dict(best)))
    return Section(f"Temperature sweep: {path.parent}", blocks)


def _sweep_table(
    curves: dict[str, list[tuple[float, float]]], temperatures: list[str], best: dict[float, float]
) -> Table:
    length = min(len(c) for c in curves.values())
    shown = [i for i in range(length) if i + 1 in (1, 2, 5, 10, 20, 50, 100, 200, 500, length)]
    rows: list[list[Cell]] = []
    for i in shown:
        k = curves[temperatures[0]][i][0]
        cells: list[Cell] = [
            Num(f"{100 * curves[t][i][1]:.2f}", curves[t][i][1]) for t in temperatures
        ]
        rows.append([Num(f"{k:g}", k), *cells, f"{best[k]:g}" if k in best else "-"])
    return Table(["k", *(f"T = {t} %" for t in temperatures), "best T"], rows, sortable=True)


# ---------------------------------------------------------------------------------------------
# One run: configuration, pass@k, outcomes, figures, problems and samples


def _run_sections(run: RunData, index: int) -> list[Section]:
    if not (run.results or run.config or run.notices):
        return []  # a sweep's folder: shown as the sweep
    blocks = _run_notices(run)
    if run.path.is_dir():
        blocks.append(_config_table(run))
    sections = [Section(f"Run: {run.path}", blocks)]
    if run.summary is not None:
        sections.append(Section("pass@k", _pass_at_k_blocks(run.summary), level=3))
        sections.append(Section("Outcomes", _outcome_blocks(run.summary), level=3))
        if run.summary.get("examples_filter"):
            sections.append(Section("By difficulty", _difficulty_blocks(run.summary), level=3))
    if run.results:
        sections.append(Section("Figures", _figure_blocks(run, index), level=3))
        problems = _problems(run.results)
        sections.append(Section("Per-problem pass rates", [_problem_table(problems)], level=3))
        sections.append(Section("Samples", _sample_blocks(problems), level=3))
    return sections


def _run_notices(run: RunData) -> list[Block]:
    notices: list[Block] = [Para(n, notice=True) for n in run.notices]
    return notices + [Para(n) for n in run.notes]


def _config_table(run: RunData) -> Table:
    items: dict[str, Any] = {}
    summary = run.summary or {}
    for prefix, values in (("", run.config), ("evaluation.", summary.get("settings"))):
        if values:
            _flatten(prefix, values, items)
    for key in ("samples_sha256", "workers", "duration_s"):
        if key in summary:
            items[f"evaluation.{key}"] = summary[key]
    if run.parameters is not None and "parameters" not in items:
        items["parameters (counted from the model's safetensors)"] = run.parameters
    if not items:
        items["config"] = "none: no config.json (a run of passk evaluate alone has none)"
    rows: list[list[Cell]] = [[key, clip(_text(value), 300)[0]] for key, value in items.items()]
    return Table(["setting", "value"], rows)


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            _flatten(f"{prefix}{key}.", inner, into)
    else:
        into[prefix.removesuffix(".")] = value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _pass_at_k_blocks(summary: dict[str, Any]) -> list[Block]:
    spp = summary.get("samples_per_problem") or {}
    per = (
        spp.get("min") if spp.get("min") == spp.get("max") else f"{spp.get('min')}-{spp.get('max')}"
    )
    intro = Para(
        f"{summary.get('problems', '-')} of {summary.get('benchmark_problems', '-')} problems, "
        f"{summary.get('samples', '-')} samples ({per} per problem); the intervals are "
        f"{100 * summary.get('confidence', 0.95):.0f}% percentile-bootstrap intervals over problems."
    )
    rows: list[list[Cell]] = []
    for name, value in (summary.get("pass_at_k") or {}).items():
        if isinstance(value, int | float):
            low, high = (summary.get("confidence_intervals") or {}).get(name, [None, None])
            ci = "-" if low is None else f"{100 * low:.2f} - {100 * high:.2f}"
            rows.append([name, Num(f"{100 * value:.2f}", value), ci])
        else:
            rows.append([name, "-", (summary.get("not_computable") or {}).get(name, "-")])
    return [intro, Table(["metric", "%", "95% CI (%)"], rows)]


def _difficulty_blocks(summary: dict[str, Any]) -> list[Block]:
    """The Codex paper's Table 2 for this run: raw and filtered pass@k per difficulty, with
    timeouts counted as passes in brackets."""
    groups = {"all": summary["examples_filter"], **(summary.get("per_difficulty") or {})}
    names = [(kind, k) for kind in ("raw", "filtered") for k in (summary.get("pass_at_k") or {})]
    rows: list[list[Cell]] = [
        [
            "problems",
            *(Num(f"{g.get('problems', 0):,}", g.get("problems", 0)) for g in groups.values()),
        ],
        [
            "samples",
            *(Num(f"{g.get('samples', 0):,}", g.get("samples", 0)) for g in groups.values()),
        ],
        [
            "kept by the filter",
            *(Num(f"{g.get('kept', 0):,}", g.get("kept", 0)) for g in groups.values()),
        ],
    ]
    for kind, k in names:
        rows.append([f"{kind} {k}", *(_bracketed(g, kind, k) for g in groups.values())])
    intro = Para(
        "Raw pass@k counts every sample; filtered pass@k keeps only the samples that pass the "
        "problem's public examples (its first three test cases) and computes pass@k over them "
        "(Chen et al. 2021, Table 2). In brackets: with programs that time out counted as passes."
    )
    return [intro, Table(["metric (%)", *groups], rows)]


def _bracketed(group: dict[str, Any], kind: str, k: str) -> Cell:
    value = (group.get(kind) or {}).get(k)
    if not isinstance(value, int | float):
        return "-"
    timeouts = (group.get(f"{kind}_timeouts_as_passes") or {}).get(k)
    text = f"{100 * value:.2f}"
    if isinstance(timeouts, int | float):
        text += f" ({100 * timeouts:.2f})"
    return Num(text, value)


def _outcome_blocks(summary: dict[str, Any]) -> list[Block]:
    outcomes = {"passed": 0, "failed": 0, "timed out": 0, **(summary.get("outcomes") or {})}
    total = sum(outcomes.values()) or 1
    rows: list[list[Cell]] = [
        [name, Num(f"{count:,}", count), f"{100 * count / total:.1f}"]
        for name, count in outcomes.items()
    ]
    blocks: list[Block] = [Table(["outcome", "samples", "%"], rows)]
    errors = summary.get("errors") or {}
    if errors:
        error_rows: list[list[Cell]] = [
            [name, Num(f"{count:,}", count)] for name, count in errors.items()
        ]
        blocks += [Para("Failures by exception type:"), Table(["exception", "samples"], error_rows)]
    extraction = summary.get("extraction") or {}
    if extraction:
        total = sum(extraction.values()) or 1
        extraction_rows: list[list[Cell]] = [
            [name, Num(f"{count:,}", count), f"{100 * count / total:.1f}"]
            for name, count in extraction.items()
        ]
        blocks += [
            Para(
                "Where each chat answer's code was found (`none:` — no program to run: "
                "those samples failed without running):"
            ),
            Table(["extraction", "samples", "%"], extraction_rows),
        ]
    return blocks


def _figure_blocks(run: RunData, index: int) -> list[Block]:
    blocks: list[Block] = []
    curve = _pass_at_k_curve(run.results)
    if len(curve) > 1:
        blocks.append(
            _pass_at_k_plot(
                f"run{index}-pass-at-k",
                f"pass@k against k, {run.path.name}",
                {"pass@k": curve},
                title="pass@k against k",
            )
        )
    blocks += _ranking_blocks(run, index) + _bleu_blocks(run, index)
    return blocks or [Para("No figures: one sample per problem and no ranking or BLEU data.")]


_HEURISTICS = {
    "oracle": "oracle (pass@k)",
    "mean_logp": "highest mean log-probability",
    "sum_logp": "highest sum log-probability",
    "back_translation": "back-translation, log P(docstring | code)",
    "examples": "passes the docstring's examples",
    "random": "random (pass@1)",
}


def _ranking_blocks(run: RunData, index: int) -> list[Block]:
    ranking = run.ranking
    if not ranking:
        return []
    series = {_HEURISTICS.get(name, name): c for name, c in ranking["curves"].items()}
    return [
        plot(
            f"run{index}-ranking",
            f"pass rate of one sample chosen out of k, {run.path.name}",
            _line,
            series,
            title="Choosing one sample out of k",
            xlabel="k (samples to choose from)",
            ylabel="pass rate of the chosen sample",
            legend_title="chosen by",
            logx=max(ranking["ks"]) >= 20,
        )
    ]


def _bleu_blocks(run: RunData, index: int) -> list[Block]:
    bleu = run.bleu
    if not bleu or not bleu.get("per_sample"):
        return []
    groups = {
        "correct": [s["bleu"] for s in bleu["per_sample"] if s["passed"]],
        "incorrect": [s["bleu"] for s in bleu["per_sample"] if not s["passed"]],
    }
    auc = (bleu.get("auc") or {}).get("overall")
    why = (bleu.get("not_computable") or {}).get("auc", "")
    text = f"ROC AUC of BLEU as a pass/fail classifier: {auc:.3f} (0.5 = chance)." if auc else why
    return [
        plot(
            f"run{index}-bleu",
            f"BLEU of correct and incorrect samples, {run.path.name}",
            _histogram,
            groups,
            title="BLEU against the canonical solution",
            xlabel="sentence BLEU",
        ),
        Para(text),
    ]


@dataclass
class _ProblemRows:
    task_id: str
    n: int = 0
    passed: int = 0
    failing: Result | None = None
    passing: Result | None = None
    errors: Counter[str] = field(default_factory=Counter)


def _problems(results: Iterable[Result]) -> list[_ProblemRows]:
    problems: dict[str, _ProblemRows] = {}
    for result in results:
        problem = problems.setdefault(result.task_id, _ProblemRows(result.task_id))
        problem.n += 1
        if result.passed:
            problem.passed += 1
            problem.passing = problem.passing or result
        else:
            problem.failing = problem.failing or result
            problem.errors[result.error or result.outcome.value] += 1
    return list(problems.values())


def _problem_table(problems: list[_ProblemRows]) -> Table:
    rows: list[list[Cell]] = [
        [
            p.task_id,
            Num(str(p.n), p.n),
            Num(str(p.passed), p.passed),
            Num(f"{100 * p.passed / p.n:.1f}", p.passed / p.n),
            p.errors.most_common(1)[0][0] if p.errors else "-",
        ]
        for p in problems
    ]
    headers = ["problem", "samples", "passed", "pass rate %", "most common failure"]
    return Table(headers, rows, sortable=True)


def _sample_blocks(problems: list[_ProblemRows]) -> list[Block]:
    intro = Para(
        f"One failing and one passing sample of each problem (the first of each in the results), "
        f"each shown up to {TEXT_LIMIT:,} characters."
    )
    return [intro, *(_problem_details(p) for p in problems)]


def _problem_details(problem: _ProblemRows) -> Details:
    blocks: list[Block] = []
    for kind, result in (("failing", problem.failing), ("passing", problem.passing)):
        if result is None:
            blocks.append(Para(f"No {kind} sample."))
            continue
        text = result.fields.get("completion", result.fields.get("solution"))
        shown, note = clip(text if isinstance(text, str) else "", TEXT_LIMIT)
        label = f"{kind} sample (completion {result.fields.get('completion_id', '-')})"
        detail = "" if result.passed else clip(result.result, RESULT_LIMIT)[0]
        blocks.append(Code(label, shown, detail=detail, note=note))
    return Details(f"{problem.task_id}: {problem.passed} of {problem.n} passed", blocks)
