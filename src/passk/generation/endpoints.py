"""HTTP for OpenAI-compatible backends: one model at one or more endpoints, requests spread over
them, transient failures retried (Chen et al. 2021, section 3.3, sample through such an API).

A request goes to the ready endpoint with the fewest requests in flight, so a faster server
takes more of the work. Transient failures (429, 5xx, connection errors, timeouts) are retried
with exponential backoff and jitter, honouring Retry-After (the endpoint gets no request until
then). An endpoint that just failed cools down for as long as that backoff: others are chosen
before it meanwhile, and a retry goes at once to one that is not cooling down. After
`failures_to_pause` failures in a row an endpoint is taken out for `pause_s` seconds, unless it
is the last one in; after the pause, one more failure takes it out again. Other 4xx answers
stop at once (`RequestRefused`); a success that is not a JSON object is a `BadAnswer`. Samples
run `concurrency` at a time in all, in worker threads, each yielded as it finishes.
"""

from __future__ import annotations

import email.utils
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx

from passk.errors import InputError, PasskError

_MESSAGE_CHARS = 300  # of a server's error message, kept in our one-line errors

Job = TypeVar("Job")
Item = TypeVar("Item")


class RequestRefused(PasskError):
    """The server refused a request (a 4xx other than 429): retrying would not help."""

    def __init__(self, message: str, status: int, server_message: str) -> None:
        super().__init__(message)
        self.status = status
        self.server_message = server_message


class BadAnswer(PasskError):
    """The server answered a request with success, but not with a JSON object."""


@dataclass
class Endpoint:
    """One base URL and what the pool knows about it."""

    url: str
    in_flight: int = 0
    failures: int = 0  # in a row
    paused_until: float = 0.0  # taken out after repeated failures
    not_before: float = 0.0  # Retry-After
    cool_until: float = 0.0  # chosen last until then, after a failure
    last_pick: int = 0
    requests: int = 0
    failed: int = 0
    pauses: int = 0

    def ready_at(self) -> float:
        return max(self.paused_until, self.not_before)


class Endpoints:
    """The endpoints of one model, with a shared HTTP client. The API key, if any, is read from
    the environment variable `api_key_env` and only ever sent as a header."""

    def __init__(
        self,
        base_urls: Sequence[str],
        *,
        api_key_env: str = "OPENAI_API_KEY",
        concurrency: int = 16,
        timeout_s: float = 120,
        max_retries: int = 6,
        backoff_s: float = 1.0,
        max_backoff_s: float = 60.0,
        failures_to_pause: int = 3,
        pause_s: float = 30.0,
    ) -> None:
        if not base_urls:
            raise InputError("no endpoint URL given")
        if concurrency < 1:
            raise InputError(f"--concurrency must be at least 1, got {concurrency}")
        if max_retries < 0:
            raise InputError(f"--max-retries must be 0 or more, got {max_retries}")
        if failures_to_pause < 1 or pause_s < 0:
            raise InputError("an endpoint is paused after 1 or more failures, for 0 s or more")
        self.endpoints = [Endpoint(url.rstrip("/")) for url in base_urls]
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.failures_to_pause = failures_to_pause
        self.pause_s = pause_s
        self._lock = threading.Lock()
        self._picks = 0
        key = os.environ.get(api_key_env)
        self._client = httpx.Client(
            headers={"Authorization": f"Bearer {key}"} if key else {},
            timeout=timeout_s,
            limits=httpx.Limits(max_connections=concurrency),
            follow_redirects=True,
        )

    @property
    def label(self) -> str:
        """The endpoints' URLs, for messages."""
        return ",".join(e.url for e in self.endpoints)

    def close(self) -> None:
        self._client.close()

    def only_model(self) -> str:
        """The one model every endpoint lists at GET /models."""
        served = {e.url: self._listed_model(e) for e in self.endpoints}
        if len(set(served.values())) > 1:
            names = ", ".join(f"{url} serves {model}" for url, model in served.items())
            raise PasskError(f"the endpoints serve different models ({names})")
        return next(iter(served.values()))

    def _listed_model(self, endpoint: Endpoint) -> str:
        data = self.call("GET", "/models", None, threading.Event(), pinned=endpoint)
        ids = [m.get("id") for m in data.get("data") or [] if isinstance(m, dict)]
        if len(ids) == 1 and isinstance(ids[0], str):
            return ids[0]
        url = f"{endpoint.url}/models"
        if not ids:
            raise PasskError(f"{url} lists no models; name one with --model-name")
        names = ", ".join(map(str, ids))
        raise PasskError(f"{url} serves several models ({names}); pick one with --model-name")

    def call(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        cancel: threading.Event,
        *,
        pinned: Endpoint | None = None,
    ) -> dict[str, Any]:
        """The JSON answer to one request, from whichever endpoint is ready, retrying transient
        failures; `pinned` sends it to that endpoint only."""
        last = url = ""
        for attempt in range(self.max_retries + 1):
            endpoint = pinned or self._acquire(cancel, f"{method} {path}")
            url = f"{endpoint.url}{path}"
            ok, retry_after = False, None
            try:
                response = self._client.request(method, url, json=payload)
            except httpx.TransportError as e:  # connection refused or reset, timeouts
                last = _describe(e)
            else:
                ok = not (response.status_code == 429 or response.status_code >= 500)
                if ok:
                    return _json_or_raise(method, url, response)
                last = f"HTTP {response.status_code}: {_server_message(response)}"
                retry_after = _retry_after(response)
            finally:
                self._release(endpoint, ok, retry_after, acquired=pinned is None)
            last_try = attempt == self.max_retries
            if not last_try and cancel.wait(self._delay(attempt, retry_after, pinned is not None)):
                raise PasskError(f"{method} {url} cancelled")
        several = len(self.endpoints) > 1 and pinned is None
        where = f"{method} {path} at {self.label}" if several else f"{method} {url}"
        last = f"{last} (from {url})" if several else last
        raise PasskError(f"{where} failed {self.max_retries + 1} times; last error: {last}")

    def report(self) -> list[dict[str, Any]]:
        """Per endpoint: requests sent, failures, and how often it was taken out."""
        with self._lock:
            return [
                {"url": e.url, "requests": e.requests, "failures": e.failed, "pauses": e.pauses}
                for e in self.endpoints
            ]

    def _acquire(self, cancel: threading.Event, what: str) -> Endpoint:
        """The ready endpoint with the fewest requests in flight (those cooling down after a
        failure last), waiting for one if none is ready."""
        while True:
            with self._lock:
                now = time.monotonic()
                ready = [e for e in self.endpoints if e.ready_at() <= now]
                if ready:
                    endpoint = min(
                        ready, key=lambda e: (e.cool_until > now, e.in_flight, e.last_pick)
                    )
                    self._picks += 1
                    endpoint.last_pick = self._picks
                    endpoint.in_flight += 1
                    endpoint.requests += 1
                    return endpoint
                wait_s = min(e.ready_at() for e in self.endpoints) - now
            if cancel.wait(max(wait_s, 0.001)):
                raise PasskError(f"{what} cancelled")

    def _release(
        self, endpoint: Endpoint, ok: bool, retry_after: float | None, *, acquired: bool
    ) -> None:
        if not acquired:  # a pinned call (listing models) is not part of the spreading
            return
        with self._lock:
            endpoint.in_flight -= 1
            if ok:
                endpoint.failures = 0
                return
            now = time.monotonic()
            endpoint.failures += 1
            endpoint.failed += 1
            endpoint.cool_until = now + self._backoff(endpoint.failures - 1)
            if retry_after is not None:
                wait_s = min(retry_after, self.max_backoff_s)
                endpoint.not_before = max(endpoint.not_before, now + wait_s)
            others_in = any(e.paused_until <= now for e in self.endpoints if e is not endpoint)
            if endpoint.failures >= self.failures_to_pause and others_in:
                # Requests in flight when it was taken out fail too: one pause, prolonged.
                endpoint.pauses += endpoint.paused_until <= now
                endpoint.paused_until = now + self.pause_s

    def _delay(self, attempt: int, retry_after: float | None, pinned: bool) -> float:
        """How long a request waits before its next try: not at all when an endpoint is ready
        and not cooling down, else its own backoff (or what Retry-After asked)."""
        if not pinned:
            with self._lock:
                now = time.monotonic()
                if any(e.ready_at() <= now and e.cool_until <= now for e in self.endpoints):
                    return 0.0
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        return self._backoff(attempt)

    def _backoff(self, attempt: int) -> float:
        # Jitter keeps many clients that failed together from retrying together.
        return min(self.max_backoff_s, self.backoff_s * 2**attempt) * random.uniform(0.5, 1.0)


def run_concurrently(
    jobs: Iterable[Job],
    work: Callable[[Job, threading.Event], list[Item]],
    concurrency: int,
) -> Iterator[Item]:
    """Run `work` on each job in `concurrency` threads; yield the items of each job as it
    finishes. Jobs are submitted no faster than they finish, so that an early stop leaves
    nothing queued; the event passed to `work` is set when the caller stops or a job fails."""
    cancel = threading.Event()
    pool = ThreadPoolExecutor(concurrency, thread_name_prefix="passk-http")
    pending: set[Future[list[Item]]] = set()
    try:
        for job in jobs:
            if len(pending) >= concurrency:
                yield from _finished(pending)
            pending.add(pool.submit(work, job, cancel))
        while pending:
            yield from _finished(pending)
    finally:
        cancel.set()
        pool.shutdown(wait=False, cancel_futures=True)


def _finished(pending: set[Future[list[Item]]]) -> Iterator[Item]:
    """Wait for at least one pending job; yield the items of those done (re-raising errors)."""
    done, _ = wait(pending, return_when=FIRST_COMPLETED)
    for future in done:
        pending.discard(future)
        yield from future.result()


def _json_or_raise(method: str, url: str, response: httpx.Response) -> dict[str, Any]:
    if response.is_error:
        message = _server_message(response)
        raise RequestRefused(
            f"{method} {url} refused: HTTP {response.status_code}: {message}",
            response.status_code,
            message,
        )
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise BadAnswer(f"{method} {url} answered with something other than a JSON object")
    return data


def _server_message(response: httpx.Response) -> str:
    """The error message in a server's answer, on one line (OpenAI, vLLM, TGI, FastAPI shapes)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    return one_line(error_message(data) or response.text or response.reason_phrase)


def error_message(data: Any) -> str | None:
    """The message of an error object in OpenAI's, vLLM's, TGI's or FastAPI's shape, if any."""
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    message = message or data.get("message") or data.get("detail")
    return str(message) if message else None


def one_line(text: str) -> str:
    text = " ".join(str(text).split())
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
