"""A backend for any OpenAI-compatible completions server: vLLM, llama.cpp, TGI, Ollama, or
`passk serve` (Chen et al. 2021, section 3.3 sample through such an API).

One HTTP request per sample (`n=1`, the sample's own seed), a bounded number in flight,
results yielded as they finish. Transient failures (429, 5xx, connection errors, timeouts) are
retried with exponential backoff and jitter, honouring Retry-After; other 4xx stop at once.
The client cuts each text at its first stop sequence itself, since servers may cap how many
they apply, and recomputes the log-probabilities of the kept tokens from the returned
`logprobs` (legacy completions format: `tokens`, `token_logprobs`, `text_offset`).
"""

from __future__ import annotations

import email.utils
import os
import random
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

import httpx

from passk.errors import InputError, PasskError
from passk.generation.types import Completion, SampleRequest, SamplingParams, cut_at_stop

_MESSAGE_CHARS = 300  # of a server's error message, kept in our one-line errors


class OpenAIBackend:
    """Draw samples from `POST {base_url}/completions`.

    `model_name` defaults to the one model `GET {base_url}/models` lists. The API key, if any,
    is read from the environment variable `api_key_env` and only ever sent as a header.
    """

    def __init__(
        self,
        base_url: str,
        *,
        model_name: str | None = None,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        timeout_s: float = 120,
        max_retries: int = 6,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
    ) -> None:
        if concurrency < 1:
            raise InputError(f"--concurrency must be at least 1, got {concurrency}")
        if max_retries < 0:
            raise InputError(f"--max-retries must be 0 or more, got {max_retries}")
        self.base_url = base_url.rstrip("/")
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        key = os.environ.get(api_key_env)
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._client = httpx.Client(
            headers=headers,
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=concurrency),
            follow_redirects=True,
        )
        try:
            self.model_id = model_name or self._only_model()
        except BaseException:
            self._client.close()
            raise

    def generate(
        self, requests: Sequence[SampleRequest], params: SamplingParams
    ) -> Iterator[tuple[SampleRequest, Completion]]:
        """Yield every request with its completion as each one finishes."""
        body = _request_body(self.model_id, params)
        cancel = threading.Event()  # set when the caller stops early or a request failed
        pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="passk-http")
        pending: set[Future[tuple[SampleRequest, Completion]]] = set()
        try:
            for request in requests:
                # Submit no faster than requests finish, so that at most `concurrency` are
                # in flight and an early stop leaves nothing queued.
                if len(pending) >= self.concurrency:
                    yield from _finished(pending)
                pending.add(pool.submit(self._sample, request, body, params.stop, cancel))
            while pending:
                yield from _finished(pending)
        finally:
            cancel.set()
            pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._client.close()

    def _only_model(self) -> str:
        data = self._call("GET", "/models", None, threading.Event())
        ids = [m.get("id") for m in data.get("data") or [] if isinstance(m, dict)]
        if len(ids) == 1 and isinstance(ids[0], str):
            return ids[0]
        url = f"{self.base_url}/models"
        if not ids:
            raise PasskError(f"{url} lists no models; name one with --model-name")
        names = ", ".join(map(str, ids))
        raise PasskError(f"{url} serves several models ({names}); pick one with --model-name")

    def _sample(
        self,
        request: SampleRequest,
        body: dict[str, Any],
        stop: Sequence[str],
        cancel: threading.Event,
    ) -> tuple[SampleRequest, Completion]:
        payload = {**body, "prompt": request.prompt, "seed": request.seed}
        data = self._call("POST", "/completions", payload, cancel)
        try:
            return request, parse_completion(data, stop)
        except (KeyError, IndexError, TypeError, ValueError) as e:
            raise PasskError(
                f"{self.base_url}/completions answered with an unexpected shape ({e!r})"
            ) from e

    def _call(
        self, method: str, path: str, payload: dict[str, Any] | None, cancel: threading.Event
    ) -> dict[str, Any]:
        """The JSON answer to one request, retrying transient failures."""
        url = f"{self.base_url}{path}"
        last = ""
        for attempt in range(self.max_retries + 1):
            try:
                response = self._client.request(method, url, json=payload)
            except httpx.TransportError as e:  # connection refused or reset, timeouts
                last, retry_after = _describe(e), None
            else:
                if not (response.status_code == 429 or response.status_code >= 500):
                    return _json_or_raise(method, url, response)
                last = f"HTTP {response.status_code}: {_server_message(response)}"
                retry_after = _retry_after(response)
            if attempt < self.max_retries and cancel.wait(self._delay(attempt, retry_after)):
                raise PasskError(f"{method} {url} cancelled")
        tries = self.max_retries + 1
        raise PasskError(f"{method} {url} failed {tries} times; last error: {last}")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        # Jitter keeps many clients that failed together from retrying together.
        return min(self.max_backoff_s, self.backoff_s * 2**attempt) * random.uniform(0.5, 1.0)


def _finished(
    pending: set[Future[tuple[SampleRequest, Completion]]],
) -> Iterator[tuple[SampleRequest, Completion]]:
    """Wait for at least one pending sample; yield those done (re-raising their errors)."""
    done, _ = wait(pending, return_when=FIRST_COMPLETED)
    for future in done:
        pending.discard(future)
        yield future.result()


def _request_body(model: str, params: SamplingParams) -> dict[str, Any]:
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


def _json_or_raise(method: str, url: str, response: httpx.Response) -> dict[str, Any]:
    if response.is_error:
        message = _server_message(response)
        raise PasskError(f"{method} {url} refused: HTTP {response.status_code}: {message}")
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise PasskError(f"{method} {url} answered with something other than a JSON object")
    return data


def _server_message(response: httpx.Response) -> str:
    """The error message in a server's answer, on one line (OpenAI, vLLM, TGI, FastAPI shapes)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    message: Any = None
    if isinstance(data, dict):
        error = data.get("error")
        message = error.get("message") if isinstance(error, dict) else error
        message = message or data.get("message") or data.get("detail")
    text = " ".join(str(message or response.text or response.reason_phrase).split())
    return text if len(text) <= _MESSAGE_CHARS else text[:_MESSAGE_CHARS] + "..."


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds the server asks us to wait (Retry-After: seconds or an HTTP date), if it does."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _describe(error: httpx.TransportError) -> str:
    detail = " ".join(str(error).split())
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__
