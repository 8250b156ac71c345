"""`passk run`: generate, evaluate in the sandbox, and score, into one run directory.

A run directory (`passk.records.RunDir`) holds `config.json` (what was asked), `samples.jsonl`,
`results.jsonl` and `results.summary.json`; either step can be resumed or redone on its own with
`passk generate` and `passk evaluate`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from passk.canonical import load_benchmark
from passk.errors import InputError
from passk.evaluation import DEFAULT_KS, Evaluation, evaluate
from passk.execution.options import ExecutionOptions
from passk.generation.generate import Generation, ProgressCallback, generate
from passk.generation.types import GenerationOptions
from passk.records.rundir import ResultsFile, RunDir, write_json

DEFAULT_MODEL_NAME = "passk-tiny"


@dataclass(frozen=True)
class Run:
    """What `run` produced."""

    directory: Path
    generation: Generation
    evaluation: Evaluation


def default_model() -> Path:
    """The model passk ships (models/passk-tiny in the repository), or PASSK_DEFAULT_MODEL."""
    override = os.environ.get("PASSK_DEFAULT_MODEL")
    path = (
        Path(override)
        if override
        else Path(__file__).resolve().parents[2] / "models" / DEFAULT_MODEL_NAME
    )
    if not (path / "config.json").is_file():
        raise InputError(
            f"no MODEL given and the default model is not at {path}; "
            "give a model directory or openai:URL"
        )
    return path


def default_run_dir(model: str, benchmark: str, options: GenerationOptions) -> Path:
    """runs/<model>-<benchmark>-n<n>-t<temperature>-s<seed>: the same command, the same folder,
    so that --resume finds it."""
    name = _slug(Path(model.rstrip("/")).name or model, "model")
    bench = _slug(benchmark, "benchmark")
    t = options.params.temperature
    return Path("runs") / f"{name}-{bench}-n{options.n}-t{t:g}-s{options.seed}"


def _slug(text: str, fallback: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or fallback


def run(
    model: str | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    benchmark: str = "humaneval",
    generation: GenerationOptions | None = None,
    execution: ExecutionOptions | None = None,
    k: Sequence[int] = DEFAULT_KS,
    resume: bool = False,
    on_generate: ProgressCallback | None = None,
    on_evaluate: Callable[[int, int], None] | None = None,
    on_start: Callable[[str], None] | None = None,
) -> Run:
    """Generate `generation.n` samples per problem with `model`, evaluate them, and score
    pass@k, into one run directory."""
    model = model or str(default_model())
    generation = generation or GenerationOptions()
    execution = execution or ExecutionOptions()
    rundir = RunDir(out if out else default_run_dir(model, benchmark, generation))
    rundir.path.mkdir(parents=True, exist_ok=True)
    rundir.write_config(_config(model, benchmark, generation, execution, k))
    if resume and rundir.samples.exists():  # generation had finished: go on to evaluation
        generated = _existing(rundir.samples, model)
    else:
        generated = generate(
            model,
            out=rundir.samples,
            benchmark=load_benchmark(benchmark, execution),
            options=generation,
            resume=resume,
            on_progress=on_generate,
        )
    evaluation = evaluate(
        rundir.samples,
        benchmark=benchmark,
        k=[x for x in k if x <= generation.n] or [1],
        execution=execution,
        out=rundir.results.path,
        resume=resume,
        on_progress=on_evaluate,
        on_start=on_start,
    )
    return Run(rundir.path, generated, evaluation)


def _config(
    model: str,
    benchmark: str,
    generation: GenerationOptions,
    execution: ExecutionOptions,
    k: Sequence[int],
) -> dict[str, Any]:
    """config.json: what the run was asked to do."""
    return {
        "model": model,
        "benchmark": benchmark,
        "tasks": list(generation.tasks) if generation.tasks else None,
        "n": generation.n,
        "params": asdict(generation.params),
        "seed": generation.seed,
        "k": list(k),
        "token_healing": generation.token_healing,
        "mode": execution.mode,
        "sandbox": execution.sandbox,
        "limits": asdict(execution.limits),
    }


def _existing(samples: Path, model: str) -> Generation:
    """A finished samples file of an earlier run, taken as it is when resuming."""
    count = sum(1 for line in samples.read_text(encoding="utf-8").splitlines() if line.strip())
    return Generation(samples, count, 0, 0.0, model)


def sweep(
    model: str | None,
    *,
    out: str | os.PathLike[str],
    temperatures: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    generation: GenerationOptions | None = None,
    on_temperature: Callable[[float], None] | None = None,
    **run_options: Any,
) -> dict[str, Any]:
    """Run `model` at every temperature into `out/t<T>` (resumed where already there: a
    finished temperature is scored again, never sampled again) and write `out/sweep.json`.
    `generation` gives everything but the temperature (default n: 100)."""
    from passk.analysis.sweep import best_temperatures, pass_at_k_curve

    if not temperatures:
        raise InputError("--temperatures needs at least one temperature")
    generation = generation or GenerationOptions(n=100)
    directory = Path(out)
    curves: dict[str, list[list[float]]] = {}
    for temperature in sorted(set(temperatures)):
        if on_temperature:
            on_temperature(temperature)
        options = replace(generation, params=replace(generation.params, temperature=temperature))
        result = run(
            model,
            out=directory / f"t{temperature:g}",
            generation=options,
            resume=True,
            **run_options,
        )
        curves[f"{temperature:g}"] = pass_at_k_curve(ResultsFile(result.evaluation.results_path))
    summary = {
        "model": model,
        "n": generation.n,
        "top_p": generation.params.top_p,
        "curves": curves,
        "best_temperature": best_temperatures(curves),
    }
    write_json(directory / RunDir.SWEEP, summary)
    return summary
