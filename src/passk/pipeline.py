"""`passk run`: generate, evaluate in the sandbox, and score, into one run directory.

A run directory holds `config.json` (what was asked), `samples.jsonl`, `results.jsonl` and
`results.summary.json`; either step can be resumed or redone on its own with `passk generate`
and `passk evaluate`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from passk.errors import InputError
from passk.evaluation import Evaluation, evaluate
from passk.execution import Limits
from passk.generation.generate import Generation, ProgressCallback, generate
from passk.generation.types import SamplingParams
from passk.records.jsonl import write_text_atomic

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


def default_run_dir(model: str, benchmark: str, n: int, params: SamplingParams, seed: int) -> Path:
    """runs/<model>-<benchmark>-n<n>-t<temperature>-s<seed>: the same command, the same folder,
    so that --resume finds it."""
    name = _slug(Path(model.rstrip("/")).name or model, "model")
    bench = _slug(benchmark, "benchmark")
    return Path("runs") / f"{name}-{bench}-n{n}-t{params.temperature:g}-s{seed}"


def _slug(text: str, fallback: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or fallback


def run(
    model: str | None = None,
    *,
    out: str | os.PathLike[str] | None = None,
    benchmark: str = "humaneval",
    tasks: Sequence[str] | None = None,
    n: int = 1,
    params: SamplingParams | None = None,
    seed: int = 0,
    k: Sequence[int] = (1, 10, 100),
    resume: bool = False,
    model_name: str | None = None,
    batch_size: int = 32,
    token_healing: bool = True,
    workers: int | None = None,
    limits: Limits | None = None,
    sandbox: str = "auto",
    mode: str = "assert",
    on_generate: ProgressCallback | None = None,
    on_evaluate: Callable[[int, int], None] | None = None,
    on_start: Callable[[str], None] | None = None,
) -> Run:
    """Generate `n` samples per problem with `model`, evaluate them, and score pass@k."""
    model = model or str(default_model())
    params = params or SamplingParams()
    directory = Path(out) if out else default_run_dir(model, benchmark, n, params, seed)
    directory.mkdir(parents=True, exist_ok=True)
    config = {
        "model": model,
        "benchmark": benchmark,
        "tasks": list(tasks) if tasks else None,
        "n": n,
        "params": asdict(params),
        "seed": seed,
        "k": list(k),
        "token_healing": token_healing,
        "mode": mode,
        "sandbox": sandbox,
        "limits": asdict(limits or Limits()),
    }
    write_text_atomic(directory / "config.json", json.dumps(config, indent=2) + "\n")
    samples = directory / "samples.jsonl"
    if resume and samples.exists():  # generation had finished: go straight on to evaluation
        generation = _existing(samples, model)
    else:
        generation = generate(
            model,
            out=samples,
            benchmark=benchmark,
            tasks=tasks,
            n=n,
            params=params,
            seed=seed,
            resume=resume,
            model_name=model_name,
            batch_size=batch_size,
            token_healing=token_healing,
            on_progress=on_generate,
        )
    evaluation = evaluate(
        samples,
        benchmark=benchmark,
        k=[x for x in k if x <= n] or [1],
        workers=workers,
        limits=limits,
        out=directory / "results.jsonl",
        resume=resume,
        on_progress=on_evaluate,
        on_start=on_start,
        sandbox=sandbox,
        mode=mode,
    )
    return Run(directory, generation, evaluation)


def _existing(samples: Path, model: str) -> Generation:
    """A finished samples file of an earlier run, taken as it is when resuming."""
    count = sum(1 for line in samples.read_text(encoding="utf-8").splitlines() if line.strip())
    return Generation(samples, count, 0, 0.0, model)


def sweep(
    model: str | None,
    *,
    out: str | os.PathLike[str],
    temperatures: Sequence[float] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    n: int = 100,
    top_p: float = 0.95,
    max_tokens: int = 300,
    on_temperature: Callable[[float], None] | None = None,
    **run_options: Any,
) -> dict[str, Any]:
    """Run `model` at every temperature into `out/t<T>` (resumed where already there: a
    finished temperature is scored again, never sampled again) and write `out/sweep.json`."""
    from passk.analysis.sweep import best_temperatures, pass_at_k_curve

    if not temperatures:
        raise InputError("--temperatures needs at least one temperature")
    directory = Path(out)
    curves: dict[str, list[list[float]]] = {}
    for temperature in sorted(set(temperatures)):
        if on_temperature:
            on_temperature(temperature)
        params = SamplingParams(temperature=temperature, top_p=top_p, max_tokens=max_tokens)
        result = run(
            model,
            out=directory / f"t{temperature:g}",
            n=n,
            params=params,
            resume=True,
            **run_options,
        )
        curves[f"{temperature:g}"] = pass_at_k_curve(result.evaluation.results_path)
    summary = {
        "model": model,
        "n": n,
        "top_p": top_p,
        "curves": curves,
        "best_temperature": best_temperatures(curves),
    }
    write_text_atomic(directory / "sweep.json", json.dumps(summary, indent=2) + "\n")
    return summary
