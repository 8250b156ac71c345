"""`passk report`: one self-contained HTML page, and a Markdown twin, over run directories.

For each run: its configuration, pass@k with bootstrap intervals (Chen et al. 2021, section
2.1), outcome counts (failures by exception type, timeouts), the paper's figures where their
data exist — ranking one sample out of k (Figure 7), BLEU of correct and incorrect samples
(Figure 8) —, per-problem pass rates (a sortable table) and, for each problem, a failing and a
passing sample with its error. For a temperature sweep: pass@k against k per temperature and the
best temperature per k (Figure 5). Across runs: pass@k side by side (Table 1) and against model
size where runs carry a parameter count (Figure 1).

The HTML needs nothing from the network: figures are PNG data URIs, CSS and the table-sorting
script are inline, and a Content-Security-Policy forbids loading anything else. Missing or
inconsistent input (a run without results, runs of different benchmarks, samples without
log-probabilities) becomes a notice naming what is missing; the rest of the report is still
produced.
"""

from __future__ import annotations

import base64
import html
import json
import math
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from passk.errors import InputError, OutputError, PasskError

BLEU_LIMIT = 5000  # samples; BLEU over more is left to `passk bleu` (about 1 ms a sample)
TEXT_LIMIT = 2000  # characters of a sample shown in the report
RESULT_LIMIT = 400  # characters of a sample's error shown
DEFAULT_KS = (1, 10, 100)
PLOT_HINT = "figures need matplotlib: pip install 'passk[analysis]'"


# ---------------------------------------------------------------------------------------------
# Reading run directories


@dataclass
class RunData:
    """What one run directory holds; `notices` say what is missing or wrong in it."""

    path: Path
    config: dict[str, Any] | None = None
    rows: list[dict[str, Any]] | None = None
    summary: dict[str, Any] | None = None
    ranking: dict[str, Any] | None = None
    bleu: dict[str, Any] | None = None
    sweep_path: Path | None = None
    parameters: int | None = None
    notices: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what is absent, and how to add it

    @property
    def benchmark(self) -> str | None:
        for source in (self.summary, self.config):
            name = (source or {}).get("benchmark")
            if isinstance(name, dict):
                name = name.get("name")
            if isinstance(name, str):
                return name
        return None

    @property
    def model(self) -> str:
        model = (self.config or {}).get("model")
        if isinstance(model, str):
            return Path(model.rstrip("/")).name or model
        models = {r.get("model") for r in self.rows or [] if isinstance(r.get("model"), str)}
        return str(models.pop()) if len(models) == 1 else "-"

    @property
    def temperature(self) -> float | None:
        value = ((self.config or {}).get("params") or {}).get("temperature")
        if value is None and self.rows:
            value = self.rows[0].get("temperature")
        return value if isinstance(value, int | float) else None


def load_run(path: str | os.PathLike[str], *, bleu_limit: int = BLEU_LIMIT) -> RunData:
    """Everything a report shows about one run directory, computed where not stored."""
    run = RunData(Path(path))
    if not run.path.is_dir():
        what = "is a file" if run.path.exists() else "no such directory"
        run.notices.append(f"{run.path}: {what}; a run directory of `passk run` was expected")
        return run
    run.config = _read_json(run, run.path / "config.json")
    run.sweep_path = _sweep_path(run.path)
    results = _results_path(run.path)
    if results is None:
        _note_missing_results(run)
    else:
        run.rows = _read_rows(run, results)
        run.summary = _summary(run, results)
    if run.rows:
        run.ranking = _ranking(run)
        run.bleu = _bleu(run, bleu_limit)
    run.parameters = parameter_count(run.config)
    return run


def _read_json(run: RunData, path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        run.notices.append(f"{path}: cannot read ({e}); left out")
        return None
    except json.JSONDecodeError as e:
        run.notices.append(f"{path}: malformed JSON ({e.msg}, line {e.lineno}); left out")
        return None
    if not isinstance(data, dict):
        run.notices.append(f"{path}: expected a JSON object; left out")
        return None
    return data


def _results_path(directory: Path) -> Path | None:
    """results.jsonl of `passk run`, else the one SAMPLES_results.jsonl of `passk evaluate`."""
    if (directory / "results.jsonl").is_file():
        return directory / "results.jsonl"
    found = sorted(directory.glob("*_results.jsonl"))
    return found[0] if len(found) == 1 else None


def _sweep_path(directory: Path) -> Path | None:
    """sweep.json in the folder (a sweep's own folder) or above it (one of its temperatures)."""
    for candidate in (directory / "sweep.json", directory.parent / "sweep.json"):
        if candidate.is_file():
            return candidate
    return None


def _note_missing_results(run: RunData) -> None:
    if (run.path / "sweep.json").is_file():
        return  # a sweep's folder: its runs are the temperatures below it
    samples = run.path / "samples.jsonl"
    if (run.path / "results.jsonl.partial").is_file():
        fix = f"its evaluation was interrupted: `passk evaluate {samples} --out {run.path / 'results.jsonl'} --resume` finishes it"
    elif samples.is_file():
        fix = f"its samples were never evaluated: `passk evaluate {samples} --out {run.path / 'results.jsonl'}`"
    else:
        fix = "nor samples.jsonl: `passk run` makes both"
    run.notices.append(
        f"{run.path}: no results.jsonl ({fix}); pass@k, outcomes, figures and samples of this "
        "run are left out"
    )


_ROW_FIELDS = (("task_id", str), ("passed", bool), ("result", str))


def _read_rows(run: RunData, results: Path) -> list[dict[str, Any]] | None:
    from passk.records import read_jsonl

    try:
        numbered = list(read_jsonl(results))
    except PasskError as e:
        run.notices.append(f"{e}; this run's results are left out")
        return None
    for number, row in numbered:
        for name, kind in _ROW_FIELDS:
            if not isinstance(row.get(name), kind):
                run.notices.append(
                    f"{results}:{number}: no {kind.__name__} {name!r}, so not a results file of "
                    "`passk evaluate`; this run's results are left out"
                )
                return None
    if not numbered:
        run.notices.append(f"{results}: no results; this run's results are left out")
        return None
    return [row for _, row in numbered]


def _summary(run: RunData, results: Path) -> dict[str, Any] | None:
    from passk.evaluation import summarize, summary_path_for

    stored = _read_json(run, summary_path_for(results))
    if stored is not None and isinstance(stored.get("pass_at_k"), dict):
        return stored
    if not run.rows:
        return None
    from passk.benchmarks import get_benchmark

    ks = (run.config or {}).get("k") or DEFAULT_KS
    try:
        summary = summarize(run.rows, get_benchmark(run.benchmark or "humaneval"), ks)
    except (PasskError, ValueError) as e:
        run.notices.append(f"{results}: pass@k cannot be computed: {e}")
        return None
    run.notes.append(f"no {summary_path_for(results).name}: pass@k computed from {results.name}")
    return summary


def _ranking(run: RunData) -> dict[str, Any] | None:
    from passk.analysis.ranking import rank_curves

    ranking = _read_json(run, run.path / "ranking.json")
    if ranking is None:
        try:
            ranking = rank_curves(run.rows or [])
        except PasskError as e:
            run.notices.append(f"{run.path}: ranking left out: {e}")
            return None
    if len(ranking.get("ks") or []) < 2:
        return None  # one sample per problem: nothing to choose from
    for name, reason in (ranking.get("skipped") or {}).items():
        run.notices.append(f"{run.path}: ranking by {name} left out: {reason}")
    return ranking


def _bleu(run: RunData, limit: int) -> dict[str, Any] | None:
    stored = _read_json(run, run.path / "bleu.json")
    if stored is not None:
        return stored
    rows = run.rows or []
    if len(rows) > limit:
        run.notes.append(
            f"BLEU left out: {len(rows)} samples is more than the report computes "
            f"({limit}); `passk bleu {run.path}` writes bleu.json, which the report then shows"
        )
        return None
    try:
        import sacrebleu  # noqa: F401
    except ImportError:
        run.notes.append("BLEU left out: it needs sacrebleu: pip install 'passk[analysis]'")
        return None
    from passk.analysis.bleu import bleu_analysis

    try:
        return bleu_analysis(rows, benchmark=run.benchmark or "humaneval")
    except PasskError as e:
        run.notices.append(f"{run.path}: BLEU left out: {e}")
        return None


def parameter_count(config: dict[str, Any] | None) -> int | None:
    """The model's parameter count: the config's `parameters` (or `model_parameters`), else
    counted from the model directory's safetensors headers where it is on this machine."""
    config = config or {}
    for key in ("parameters", "model_parameters"):
        value = config.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    model = config.get("model")
    return count_parameters(model) if isinstance(model, str) else None


def count_parameters(model_dir: str | os.PathLike[str]) -> int | None:
    """Parameters in a Hugging Face model directory's *.safetensors files (their headers only),
    or None where there are none or they cannot be read."""
    directory = Path(model_dir)
    try:
        files = sorted(directory.glob("*.safetensors")) if directory.is_dir() else []
        counts = [_safetensors_parameters(f) for f in files]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return sum(counts) or None


def _safetensors_parameters(path: Path) -> int:
    # The format: an 8-byte little-endian header length, then a JSON header of tensor shapes.
    with path.open("rb") as f:
        size = int.from_bytes(f.read(8), "little")
        if size > 100_000_000:
            raise ValueError(f"{path}: implausible safetensors header of {size} bytes")
        header = json.loads(f.read(size))
    return sum(math.prod(t["shape"]) for name, t in header.items() if name != "__metadata__")


def load_sweep(path: Path, notices: list[str]) -> dict[str, Any] | None:
    """A sweep.json with its curves, or None with a notice saying what is wrong."""
    holder = RunData(path.parent)
    data = _read_json(holder, path)
    notices.extend(holder.notices)
    if data is not None and not (isinstance(data.get("curves"), dict) and data["curves"]):
        notices.append(f"{path}: no temperature curves; the sweep is left out")
        return None
    return data


# ---------------------------------------------------------------------------------------------
# The report as a document: sections of paragraphs, tables, figures and samples


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
    for i, run in enumerate(loaded):
        sections += _run_sections(run, i)
    if not any(run.rows or run.config for run in loaded) and not sweeps:
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
        [str(r.path), r.benchmark or "-", r.model, _count(r.rows), _percent_cell(r, 1)]
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
    curves = {r.path.name or str(r.path): _pass_at_k_curve(r.rows) for r in runs if r.rows}
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
        _plot(
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


def _pass_at_k_curve(rows: list[dict[str, Any]] | None) -> list[tuple[float, float]]:
    """(k, pass@k) at up to 40 ks spread evenly on a log scale from 1 to the smallest n."""
    import numpy as np

    from passk.metrics import mean_pass_at_k

    n: Counter[str] = Counter()
    c: Counter[str] = Counter()
    for row in rows or []:
        n[row["task_id"]] += 1
        c[row["task_id"]] += bool(row["passed"])
    tasks = list(n)
    smallest = min(n.values(), default=0)
    ks = sorted({int(k) for k in np.geomspace(1, max(smallest, 1), 40).round()})
    counts, correct = [n[t] for t in tasks], [c[t] for t in tasks]
    return [(k, mean_pass_at_k(counts, correct, k)) for k in ks if smallest]


# ---------------------------------------------------------------------------------------------
# Figures: drawn where matplotlib is installed, a note where it is not


def _line(series: Any, **options: Any) -> bytes:
    from passk.analysis.plots import line_plot

    return line_plot(series, **options)


def _histogram(groups: Any, **options: Any) -> bytes:
    from passk.analysis.plots import histogram_plot

    return histogram_plot(groups, **options)


def _plot(slug: str, caption: str, draw: Callable[..., bytes], *args: Any, **options: Any) -> Block:
    try:
        return Figure(slug, caption, draw(*args, **options))
    except ImportError:
        return Para(f"Figure left out ({caption}): {PLOT_HINT}.", notice=True)


def _pass_at_k_plot(
    slug: str, caption: str, series: Any, *, title: str, legend_title: str | None = None
) -> Block:
    return _plot(
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
            _plot(
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
    if not (run.rows or run.config or run.notices):
        return []  # a sweep's folder: shown as the sweep
    blocks = _run_notices(run)
    if run.path.is_dir():
        blocks.append(_config_table(run))
    sections = [Section(f"Run: {run.path}", blocks)]
    if run.summary is not None:
        sections.append(Section("pass@k", _pass_at_k_blocks(run.summary), level=3))
        sections.append(Section("Outcomes", _outcome_blocks(run.summary), level=3))
    if run.rows:
        sections.append(Section("Figures", _figure_blocks(run, index), level=3))
        problems = _problems(run.rows)
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
    rows: list[list[Cell]] = [[key, _clip(_text(value), 300)[0]] for key, value in items.items()]
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
    return blocks


def _figure_blocks(run: RunData, index: int) -> list[Block]:
    blocks: list[Block] = []
    curve = _pass_at_k_curve(run.rows)
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
        _plot(
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
        _plot(
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
    failing: dict[str, Any] | None = None
    passing: dict[str, Any] | None = None
    errors: Counter[str] = field(default_factory=Counter)


def _problems(rows: Iterable[dict[str, Any]]) -> list[_ProblemRows]:
    from passk.evaluation import outcome_of

    problems: dict[str, _ProblemRows] = {}
    for row in rows:
        problem = problems.setdefault(row["task_id"], _ProblemRows(row["task_id"]))
        problem.n += 1
        if row["passed"]:
            problem.passed += 1
            problem.passing = problem.passing or row
        else:
            problem.failing = problem.failing or row
            outcome, error = outcome_of(row["result"])
            problem.errors[error or outcome] += 1
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
    for kind, row in (("failing", problem.failing), ("passing", problem.passing)):
        if row is None:
            blocks.append(Para(f"No {kind} sample."))
            continue
        text = row.get("completion", row.get("solution"))
        shown, note = _clip(text if isinstance(text, str) else "", TEXT_LIMIT)
        label = f"{kind} sample (completion {row.get('completion_id', '-')})"
        detail = "" if row["passed"] else _clip(row["result"], RESULT_LIMIT)[0]
        blocks.append(Code(label, shown, detail=detail, note=note))
    return Details(f"{problem.task_id}: {problem.passed} of {problem.n} passed", blocks)


def _clip(text: str, limit: int) -> tuple[str, str]:
    """The text cut to `limit` characters, and a note saying so when it was cut."""
    if len(text) <= limit:
        return text, ""
    return text[:limit], f"truncated: {limit:,} of {len(text):,} characters shown"


# ---------------------------------------------------------------------------------------------
# Writing HTML and Markdown


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
    from passk.records.jsonl import check_writable, write_text_atomic

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
