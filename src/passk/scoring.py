"""`passk rank` with the rankings that need more than the results: a model or the sandbox.

The analyses rank samples by scores they are given (`passk.analysis.ranking`). Two scores are
computed here, in the orchestration layer, because computing them runs something: the
back-translation score log P(docstring | code) runs a local model (`LocalBackend.score`), and the
docstring-examples verdicts run every sample against its prompt's `>>>` examples in the sandbox
(the worker pool `passk.evaluation` opens).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from passk.analysis import backtranslation
from passk.analysis.examples import example_programs, record_example_verdicts
from passk.analysis.ranking import (
    LOGP_FIELDS,
    Score,
    examples_score,
    field_score,
    group_by_task,
    rank_curves,
)
from passk.benchmarks import Problem, get_benchmark
from passk.benchmarks.docstrings import TEMPLATE
from passk.errors import InputError
from passk.evaluation import StartCallback, open_pool
from passk.execution import Job
from passk.execution.options import ExecutionOptions
from passk.records import RunDir
from passk.records.rundir import benchmark_name


def rank_run(
    results: str | os.PathLike[str],
    *,
    ks: Sequence[int] | None = None,
    benchmark: str | None = None,
    back_translation: bool = False,
    docstring_model: str | os.PathLike[str] | None = None,
    examples: bool = False,
    execution: ExecutionOptions | None = None,
    on_start: StartCallback | None = None,
) -> dict[str, Any]:
    """`passk rank`: the curves of `rank_curves` for a run directory or results file, with the
    back-translation and docstring-examples rankings when asked for.

    Back-translation scores with `docstring_model`, else the model named by the run's
    config.json; the examples run under `execution` (workers, sandbox, limits), and `on_start`
    hears what protects the machine before they do.
    """
    run = RunDir.of(results)
    rows = [row for rows in group_by_task(run.results.path).values() for row in rows]
    scores: dict[str, Score] = {f: field_score(f) for f in LOGP_FIELDS}
    if not (back_translation or examples):
        return rank_curves(rows, ks=ks, scores=scores)
    config = run.read_config() or {}
    name = benchmark or benchmark_name(config) or run.results.benchmark() or "humaneval"
    bench = get_benchmark(name)
    where = str(run.results.path)
    problems = {t: bench.problem(t, where=where) for t in dict.fromkeys(r["task_id"] for r in rows)}
    notes: dict[str, Any] = {}
    if back_translation:
        notes["back_translation"] = add_back_translation(rows, problems, docstring_model, config)
        scores["back_translation"] = field_score(backtranslation.FIELD)
    if examples:
        counts = add_example_verdicts(
            rows, problems, execution=execution, preimports=bench.preimports, on_start=on_start
        )
        notes["examples"] = {**counts, "tie_break": "mean_logp", "without_examples": "mean_logp"}
        scores["examples"] = examples_score
    return {**rank_curves(rows, ks=ks, scores=scores), **notes}


def add_example_verdicts(
    rows: Sequence[dict[str, Any]],
    problems: Mapping[str, Problem],
    *,
    execution: ExecutionOptions | None = None,
    preimports: Iterable[str] = (),
    on_start: Callable[[str], None] | None = None,
) -> dict[str, int]:
    """Run every sample of a problem with examples against them in the sandbox and set its
    `passes_examples` (True/False; None where the problem has no examples). Returns counts."""
    programs = example_programs(rows, problems)
    distinct = list(dict.fromkeys(programs.values()))
    passed: dict[str, bool] = {}
    if distinct:
        pool = open_pool(execution or ExecutionOptions(), preimports, on_start)
        jobs = [Job(i, program) for i, program in enumerate(distinct)]
        with pool:
            passed = {distinct[i]: verdict.passed for i, verdict in pool.run(jobs)}
    return record_example_verdicts(rows, programs, passed)


def add_back_translation(
    rows: list[dict[str, Any]],
    problems: dict[str, Problem],
    docstring_model: str | os.PathLike[str] | None,
    config: dict[str, Any],
) -> dict[str, Any]:
    """Score every row's back-translation with a local model; what was used, for the JSON."""
    from passk.generation.local import LocalBackend

    model = str(docstring_model) if docstring_model is not None else config.get("model")
    if not isinstance(model, str):
        raise InputError(
            "--back-translation: no run config.json beside the results names the run's model; "
            "give --docstring-model DIR"
        )
    if model.startswith(("openai:", "vllm:")):
        raise InputError(
            f"--back-translation scores with a local model directory, and the run's model is "
            f"{model}; give --docstring-model DIR"
        )
    backend = LocalBackend(model)
    try:
        scored = backtranslation.add_back_translation(rows, problems, backend.score)
    finally:
        backend.close()
    return {"model": model, "template": TEMPLATE, "texts_scored": scored}
