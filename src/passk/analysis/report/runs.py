"""Reading what the report shows about one run directory, computed where it is not stored.

Files are found and read through `passk.records.RunDir`. Missing or inconsistent input (a run
without results, a malformed summary, samples without log-probabilities) becomes a notice that
names it, or a note saying how to add it; the rest of the run is still read.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from passk.errors import PasskError
from passk.records import Result, ResultsFile, RunDir
from passk.records.rundir import benchmark_name, read_json

BLEU_LIMIT = 5000  # samples; BLEU over more is left to `passk bleu` (about 1 ms a sample)
DEFAULT_KS = (1, 10, 100)


@dataclass
class RunData:
    """What one run directory holds; `notices` say what is missing or wrong in it."""

    path: Path
    config: dict[str, Any] | None = None
    results: list[Result] | None = None
    summary: dict[str, Any] | None = None
    ranking: dict[str, Any] | None = None
    bleu: dict[str, Any] | None = None
    sweep_path: Path | None = None
    parameters: int | None = None
    notices: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what is absent, and how to add it

    @property
    def rows(self) -> list[dict[str, Any]] | None:
        """The results as results-file rows, for the analyses that read rows."""
        return None if self.results is None else [r.row() for r in self.results]

    @property
    def benchmark(self) -> str | None:
        return benchmark_name(self.summary) or benchmark_name(self.config)

    @property
    def model(self) -> str:
        model = (self.config or {}).get("model")
        if isinstance(model, str):
            return Path(model.rstrip("/")).name or model
        models = {r.fields.get("model") for r in self.results or []}
        models = {m for m in models if isinstance(m, str)}
        return str(models.pop()) if len(models) == 1 else "-"

    @property
    def temperature(self) -> float | None:
        value = ((self.config or {}).get("params") or {}).get("temperature")
        if value is None and self.results:
            value = self.results[0].fields.get("temperature")
        return value if isinstance(value, int | float) else None


def load_run(path: str | os.PathLike[str], *, bleu_limit: int = BLEU_LIMIT) -> RunData:
    """Everything a report shows about one run directory, computed where not stored."""
    run = RunData(Path(path))
    if not run.path.is_dir():
        what = "is a file" if run.path.exists() else "no such directory"
        run.notices.append(f"{run.path}: {what}; a run directory of `passk run` was expected")
        return run
    rundir = RunDir(run.path)
    run.config = _read(run, rundir.config_path)
    run.sweep_path = rundir.find_sweep()
    results = rundir.find_results()
    if results is None:
        missing = rundir.missing_results()
        if missing:
            run.notices.append(
                f"{run.path}: {missing}; pass@k, outcomes, figures and samples of this run are "
                "left out"
            )
    else:
        run.results = _read_results(run, results)
        run.summary = _summary(run, results)
    if run.results and results is not None:
        run.ranking = _ranking(run, results)
        run.bleu = _bleu(run, bleu_limit)
    run.parameters = parameter_count(run.config)
    return run


def _read(run: RunData, path: Path) -> dict[str, Any] | None:
    try:
        return read_json(path)
    except PasskError as e:
        run.notices.append(f"{e}; left out")
        return None


def _read_results(run: RunData, results: ResultsFile) -> list[Result] | None:
    try:
        read = list(results.iter())
    except PasskError as e:
        run.notices.append(f"{e}; this run's results are left out")
        return None
    if not read:
        run.notices.append(f"{results.path}: no results; this run's results are left out")
        return None
    return read


def _summary(run: RunData, results: ResultsFile) -> dict[str, Any] | None:
    from passk.analysis.summary import summarize

    stored = _read(run, results.summary)
    if stored is not None and isinstance(stored.get("pass_at_k"), dict):
        return stored
    if not run.results:
        return None
    from passk.benchmarks import get_benchmark

    ks = (run.config or {}).get("k") or DEFAULT_KS
    try:
        summary = summarize(run.results, get_benchmark(run.benchmark or "humaneval"), ks)
    except (PasskError, ValueError) as e:
        run.notices.append(f"{results.path}: pass@k cannot be computed: {e}")
        return None
    run.notes.append(f"no {results.summary.name}: pass@k computed from {results.path.name}")
    return summary


def _ranking(run: RunData, results: ResultsFile) -> dict[str, Any] | None:
    from passk.analysis.ranking import rank_curves

    ranking = _read(run, results.ranking)
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
    stored = _read(run, run.path / RunDir.BLEU)  # what `passk bleu RUN_DIR` writes
    if stored is not None:
        return stored
    count = len(run.results or [])
    if count > limit:
        run.notes.append(
            f"BLEU left out: {count} samples is more than the report computes "
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
        return bleu_analysis(run.rows or [], benchmark=run.benchmark or "humaneval")
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
    try:
        data = read_json(path)
    except PasskError as e:
        notices.append(f"{e}; left out")
        return None
    if data is not None and not (isinstance(data.get("curves"), dict) and data["curves"]):
        notices.append(f"{path}: no temperature curves; the sweep is left out")
        return None
    return data
