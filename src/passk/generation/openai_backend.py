"""Backends for OpenAI-compatible servers (vLLM, llama.cpp, TGI, Ollama, SGLang, `passk serve`,
hosted APIs): the completions API, as the Codex paper samples (Chen et al. 2021, section 3.3),
and the chat API, which instruction-tuned and reasoning models speak.

Both send one request per sample by default, with the sample's own seed, to one or more
endpoints of the same model (`passk.generation.endpoints`: spreading, retries, backoff,
Retry-After, endpoints taken out and back), a bounded number in flight, results yielded as
they finish. The client cuts each text at its first stop sequence itself, since servers may
cap how many they apply, and sums the log-probabilities of the kept tokens.

Completions (`POST /completions`): `logprobs` in the legacy format (`tokens`,
`token_logprobs`, `text_offset`). A malformed answer stops the run.

Chat (`POST /chat/completions`): the request's messages (`passk.generation.prompts`), `n`,
`temperature`, `top_p`, `max_tokens` (switched to `max_completion_tokens` when the server says
so), `seed`, `stop`, `logprobs` (dropped when the server refuses it), `top_k` where set. A
final assistant message is a response prefix: the request asks the server to continue it
(vLLM's `continue_final_message`), and the sample's text is the prefix followed by the answer.
Each sample keeps the server's reasoning (`reasoning_content` or `reasoning`) and `usage`
(prompt, completion and reasoning tokens). With `samples_per_request` > 1, the samples of one
prompt are asked for together (`n`), and those the server did not return (a server that
ignores `n` returns one) are asked for again, so it gets n requests. An answer with no
choices, null content, an error object or a body that is not JSON is asked for again, up to
`bad_answer_retries` times, then recorded as a sample that failed (`AnswerFailure.NO_ANSWER`,
with the reason in `error`); a refusal (the `refusal` field, or `finish_reason:
content_filter`) is recorded as `REFUSED` at once: asking again until a model complies would
bias pass@k. A run stops only where retrying cannot help: a refused request (4xx), or an
endpoint that keeps failing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import Any

from passk.errors import InputError, PasskError
from passk.generation.endpoints import (
    BadAnswer,
    Endpoints,
    RequestRefused,
    error_message,
    one_line,
    run_concurrently,
)
from passk.generation.types import (
    AnswerFailure,
    Completion,
    Message,
    SampleRequest,
    SamplingParams,
    Usage,
    cut_at_stop,
)


class _HTTPBackend:
    """What both APIs share: the endpoints (`options` are `Endpoints`'s: concurrency, timeouts,
    retries, backoff, pauses), the model's name."""

    def __init__(
        self, base_url: str | Sequence[str], *, model_name: str | None = None, **options: Any
    ) -> None:
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        self.endpoints = Endpoints(urls, **options)
        try:
            self.model_id = model_name or self.endpoints.only_model()
        except BaseException:
            self.endpoints.close()
            raise

    @property
    def concurrency(self) -> int:
        return self.endpoints.concurrency

    def close(self) -> None:
        self.endpoints.close()


class OpenAIBackend(_HTTPBackend):
    """Draw samples from `POST {base_url}/completions`, one request per sample.

    `model_name` defaults to the one model `GET {base_url}/models` lists (every endpoint's).
    """

    def generate(
        self, requests: Sequence[SampleRequest], params: SamplingParams
    ) -> Iterator[tuple[SampleRequest, Completion]]:
        """Yield every request with its completion as each one finishes."""
        body = _completions_body(self.model_id, params)

        def draw(request: SampleRequest, cancel: threading.Event) -> list[Any]:
            payload = {**body, "prompt": request.prompt, "seed": request.seed}
            data = self.endpoints.call("POST", "/completions", payload, cancel)
            try:
                return [(request, parse_completion(data, params.stop))]
            except (KeyError, IndexError, TypeError, ValueError) as e:
                raise PasskError(
                    f"{self.endpoints.label}/completions answered with an unexpected shape ({e!r})"
                ) from e

        yield from run_concurrently(requests, draw, self.concurrency)


class OpenAIChatBackend(_HTTPBackend):
    """Draw samples from `POST {base_url}/chat/completions` (see the module docstring)."""

    api = "chat"  # `passk generate` puts problems as chat messages and extracts the answers

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        samples_per_request: int = 1,
        bad_answer_retries: int = 2,
        **options: Any,
    ) -> None:
        if samples_per_request < 1:
            raise InputError(f"--samples-per-request must be at least 1, got {samples_per_request}")
        if bad_answer_retries < 0:
            raise InputError(f"bad_answer_retries must be 0 or more, got {bad_answer_retries}")
        super().__init__(base_url, **options)
        self.samples_per_request = samples_per_request
        self.bad_answer_retries = bad_answer_retries
        self._settings_lock = threading.Lock()
        self.max_tokens_field = "max_tokens"
        self.logprobs = True

    def generate(
        self, requests: Sequence[SampleRequest], params: SamplingParams
    ) -> Iterator[tuple[SampleRequest, Completion]]:
        """Yield every request with its completion as each one finishes."""
        groups = group_requests(requests, self.samples_per_request)

        def draw(group: list[SampleRequest], cancel: threading.Event) -> list[Any]:
            return self._draw_group(group, params, cancel)

        yield from run_concurrently(groups, draw, self.concurrency)

    def _draw_group(
        self, group: list[SampleRequest], params: SamplingParams, cancel: threading.Event
    ) -> list[tuple[SampleRequest, Completion]]:
        """One completion for each request of a group (one prompt), asking until all have one."""
        drawn: list[tuple[SampleRequest, Completion]] = []
        pending, bad, problem = list(group), 0, ""
        prefix = response_prefix(messages_of(group[0]))
        while pending:
            try:
                data = self._post(pending, params, cancel)
                answers, problem = parse_chat(data, params.stop, prefix)
            except BadAnswer:
                answers, problem = [], "the answer is not a JSON object"
            answers = answers[: len(pending)]
            drawn += zip(pending, answers, strict=False)
            pending = pending[len(answers) :]
            bad = 0 if answers else bad + 1
            if pending and bad > self.bad_answer_retries:
                failed = no_answer(f"{problem} ({bad} times)")
                return drawn + [(r, failed) for r in pending]
        return drawn

    def _post(
        self, pending: list[SampleRequest], params: SamplingParams, cancel: threading.Event
    ) -> dict[str, Any]:
        """One request for the pending samples, adapting to each setting a server names in a
        refusal (`max_tokens` -> `max_completion_tokens`, no `logprobs`)."""
        while True:
            payload = self._payload(pending, params)
            try:
                return self.endpoints.call("POST", "/chat/completions", payload, cancel)
            except RequestRefused as e:
                if not (e.status == 400 and self._adapt(e.server_message, payload)):
                    raise

    def _payload(self, pending: list[SampleRequest], params: SamplingParams) -> dict[str, Any]:
        messages = messages_of(pending[0])
        payload: dict[str, Any] = {
            "model": self.model_id,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "n": len(pending),
            "temperature": params.temperature,
            "top_p": params.top_p,
            "seed": pending[0].seed,
        }
        with self._settings_lock:
            payload[self.max_tokens_field] = params.max_tokens
            if self.logprobs:
                payload["logprobs"] = True
        if params.stop:
            payload["stop"] = list(params.stop)
        if params.top_k > 0:  # not OpenAI's; vLLM and passk serve read it, others may refuse it
            payload["top_k"] = params.top_k
        if response_prefix(messages):
            payload.update(continue_final_message=True, add_generation_prompt=False)
        return payload

    def _adapt(self, message: str, sent: dict[str, Any]) -> bool:
        """Change the setting a 400's message names, if the refused request had it (another
        request may have changed it already); False when there is nothing to change."""
        with self._settings_lock:
            if "max_tokens" in sent and "max_completion_tokens" in message:
                self.max_tokens_field = "max_completion_tokens"
                return True
            if "logprobs" in sent and "logprobs" in message:
                self.logprobs = False
                return True
        return False


def group_requests(requests: Sequence[SampleRequest], size: int) -> list[list[SampleRequest]]:
    """Consecutive requests with the same messages, in groups of at most `size`."""
    groups: list[list[SampleRequest]] = []
    for request in requests:
        last = groups[-1] if groups else None
        same = last is not None and messages_of(last[0]) == messages_of(request)
        if last is not None and same and len(last) < size:
            last.append(request)
        else:
            groups.append([request])
    return groups


def messages_of(request: SampleRequest) -> tuple[Message, ...]:
    """A request's chat messages: its own, or one user message holding its prompt."""
    return request.messages or (Message("user", request.prompt),)


def response_prefix(messages: Sequence[Message]) -> str:
    """The text a final assistant message puts in the model's mouth ("" without one)."""
    return messages[-1].content if messages and messages[-1].role == "assistant" else ""


def no_answer(reason: str) -> Completion:
    return Completion(
        "", 0, None, None, "stop", failure=AnswerFailure.NO_ANSWER, error=one_line(reason)
    )


def parse_chat(
    data: dict[str, Any], stop: Sequence[str], prefix: str = ""
) -> tuple[list[Completion], str]:
    """The samples in a chat answer (refusals included), and what was wrong with any choice
    that gave none ("" if nothing was).

    >>> answers, problem = parse_chat({"choices": [
    ...     {"message": {"content": "x = 1", "reasoning_content": "easy"}, "finish_reason": "stop"},
    ...     {"message": {"content": None}, "finish_reason": "stop"},
    ...     {"message": {"content": None, "refusal": "No."}, "finish_reason": "stop"}]}, [])
    >>> [(c.text, c.reasoning, c.failure) for c in answers], problem
    ([('x = 1', 'easy', None), ('', None, <AnswerFailure.REFUSED: 'Refused'>)], 'null content')
    """
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        message = error_message(data)
        return [], f"an error object: {message}" if message else "no choices"
    usage = parse_usage(data.get("usage"), len(choices))
    answers, problems = [], []
    for choice in choices:
        answer = parse_chat_choice(choice, stop, prefix, usage, len(choices))
        if isinstance(answer, str):
            problems.append(answer)
        else:
            answers.append(answer)
    return answers, problems[0] if problems else ""


def parse_chat_choice(
    choice: Any, stop: Sequence[str], prefix: str, usage: Usage | None, choices: int
) -> Completion | str:
    """One choice as a sample, or what is wrong with it."""
    message = choice.get("message") if isinstance(choice, dict) else None
    if not isinstance(message, dict):
        return "a choice without a message"
    finish = choice.get("finish_reason")
    reasoning = _text(message.get("reasoning_content")) or _text(message.get("reasoning"))
    refusal = _text(message.get("refusal"))
    if refusal or finish == "content_filter":
        error = f"refusal: {refusal}" if refusal else "finish_reason: content_filter"
        return Completion(
            "", 0, None, None, "stop", reasoning=reasoning, usage=usage,
            failure=AnswerFailure.REFUSED, error=one_line(error),
        )  # fmt: skip
    content = _text(message.get("content"))
    if content is None:
        if not (reasoning or finish == "length"):  # a reasoning model's answer may be empty
            return "null content"
        content = ""
    text, was_cut = cut_at_stop(content, stop)
    finish_reason = "length" if finish == "length" and not was_cut else "stop"
    logps = kept_chat_logprobs(choice.get("logprobs"), None if finish_reason == "length" else text)
    if logps is None:
        tokens = usage.completion_tokens if usage and choices == 1 else None
        return Completion(
            prefix + text, tokens or 0, None, None, finish_reason, reasoning=reasoning, usage=usage
        )
    total = float(sum(logps))
    mean = total / len(logps) if logps else None
    return Completion(
        prefix + text, len(logps), total, mean, finish_reason, reasoning=reasoning, usage=usage
    )


def _text(value: Any) -> str | None:
    """A message field as text: a string, or the text parts of a list of parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        parts = [p.get("text") for p in value if isinstance(p, dict)]
        return "".join(p for p in parts if isinstance(p, str))
    return None


def parse_usage(usage: Any, samples: int) -> Usage | None:
    """A chat answer's `usage`, reasoning tokens from `completion_tokens_details` (OpenAI,
    DeepSeek) or a top-level `reasoning_tokens`."""
    if not isinstance(usage, dict):
        return None
    details = usage.get("completion_tokens_details")
    reasoning = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return Usage(
        prompt_tokens=_count(usage.get("prompt_tokens")),
        completion_tokens=_count(usage.get("completion_tokens")),
        reasoning_tokens=_count(
            reasoning if reasoning is not None else usage.get("reasoning_tokens")
        ),
        samples=samples,
    )


def _count(value: Any) -> int | None:
    return value if type(value) is int and value >= 0 else None


def kept_chat_logprobs(logprobs: Any, kept: str | None) -> list[float] | None:
    """The log-probabilities of a chat answer's tokens that start within `kept` (all of them
    for None); None when the server sent no usable per-token data. Token starts count bytes
    where the server gives each token's bytes, characters otherwise."""
    entries = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return None
    if any(type(e.get("logprob")) not in (int, float) for e in entries):
        return None
    values = [float(e["logprob"]) for e in entries]
    if kept is None:
        return values
    if all(isinstance(e.get("bytes"), list) for e in entries):
        sizes, limit = [len(e["bytes"]) for e in entries], len(kept.encode())
    else:
        sizes, limit = [len(str(e.get("token", ""))) for e in entries], len(kept)
    kept_values, at = [], 0
    for value, size in zip(values, sizes, strict=True):
        if at < limit:
            kept_values.append(value)
        at += size
    return kept_values


# ---- completions ---------------------------------------------------------------------------


def _completions_body(model: str, params: SamplingParams) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": model,
        "n": 1,
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "logprobs": 1,
    }
    if params.stop:
        body["stop"] = list(params.stop)
    if params.top_k > 0:  # not OpenAI's; vLLM and passk serve read it, others may refuse it
        body["top_k"] = params.top_k
    return body


def parse_completion(data: dict[str, Any], stop: Sequence[str]) -> Completion:
    """The first choice of a completions response, cut at its first stop sequence, with the
    log-probabilities of the tokens that start before the cut.

    >>> c = parse_completion({"choices": [{"text": "  x = 1\\ndef g", "finish_reason": "length",
    ...     "logprobs": {"tokens": ["  x", " = 1", "\\ndef", " g"], "text_offset": [5, 8, 12, 16],
    ...     "token_logprobs": [-1.0, -0.5, -2.0, -3.0]}}]}, ["\\ndef"])
    >>> (c.text, c.num_tokens, c.sum_logp, c.mean_logp, c.finish_reason)
    ('  x = 1', 2, -1.5, -0.75, 'stop')
    """
    choice = data["choices"][0]
    text, was_cut = cut_at_stop(str(choice["text"]), stop)
    finish_reason = "length" if choice.get("finish_reason") == "length" and not was_cut else "stop"
    # A sample that ran out of tokens has no tokens past its text, so all count, even trailing
    # ones that add no characters; otherwise those past a cut or end-of-text do not.
    kept_chars = None if finish_reason == "length" else len(text)
    logps = kept_logprobs(choice.get("logprobs"), kept_chars)
    if logps is None:
        # No per-token data: the server's count of generated tokens is the best there is.
        num_tokens = int((data.get("usage") or {}).get("completion_tokens") or 0)
        return Completion(text, num_tokens, None, None, finish_reason)
    total = float(sum(logps))
    return Completion(text, len(logps), total, total / len(logps) if logps else None, finish_reason)


def kept_logprobs(logprobs: Any, kept_chars: int | None) -> list[float] | None:
    """The log-probabilities of the tokens starting within the first `kept_chars` characters of
    the completion (all of them for None); None when the server sent no usable per-token data."""
    if not isinstance(logprobs, dict):
        return None
    values = logprobs.get("token_logprobs")
    if not isinstance(values, list) or any(not isinstance(v, int | float) for v in values):
        return None
    if kept_chars is None:
        return [float(v) for v in values]
    starts = _token_starts(logprobs.get("text_offset"), logprobs.get("tokens"), len(values))
    if starts is None:
        return None
    return [float(v) for v, start in zip(values, starts, strict=True) if start < kept_chars]


def _token_starts(offsets: Any, tokens: Any, count: int) -> list[int] | None:
    """Where each token starts in the completion text."""
    if isinstance(offsets, list) and len(offsets) == count and all(type(o) is int for o in offsets):
        # OpenAI counts offsets from the start of the prompt, vLLM from the start of the
        # completion: either way the first generated token starts the completion.
        return [o - offsets[0] for o in offsets]
    if isinstance(tokens, list) and len(tokens) == count and all(type(t) is str for t in tokens):
        starts, at = [], 0
        for token in tokens:
            starts.append(at)
            at += len(token)
        return starts
    return None
