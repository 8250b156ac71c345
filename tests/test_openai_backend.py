"""OpenAIBackend against a scripted OpenAI-compatible server on 127.0.0.1: retries on 429, 5xx,
timeouts and refused connections; immediate errors on other 4xx; bounded concurrency; the
request it sends; stop sequences cut client-side and the log-probabilities of the kept tokens.
"""

from __future__ import annotations

import contextlib
import doctest
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from passk.errors import PasskError
from passk.generation import openai_backend
from passk.generation.openai_backend import OpenAIBackend, parse_completion
from passk.generation.types import SampleRequest, SamplingParams

CODEX_STOPS = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, or a str sent as is; None: a success echoing the request
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class Script:
    """What the server answers, in order, and what it saw."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.by_prompt: dict[str, Reply] = {}  # for requests sent together, whatever the order
        self.models = ["tiny"]
        self.bodies: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def next(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        with self.lock:
            self.bodies.append(body)
            self.headers.append(headers)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            if body.get("prompt") in self.by_prompt:
                return self.by_prompt[body["prompt"]]
            return self.replies.popleft() if self.replies else Reply()

    def done(self) -> None:
        with self.lock:
            self.active -= 1


def echo(body: dict[str, Any]) -> dict[str, Any]:
    """A success whose text names the prompt and seed it answers."""
    text = f"<{body['prompt']}|{body['seed']}>"
    choice = {"index": 0, "text": text, "finish_reason": "length", "logprobs": None}
    return {"choices": [choice], "usage": {"completion_tokens": 3}}


class Handler(BaseHTTPRequestHandler):
    script: Script

    def do_GET(self) -> None:
        data = [{"id": m, "object": "model"} for m in self.script.models]
        self._send(200, {"object": "list", "data": data}, {})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = self.script.next(body, dict(self.headers))
        time.sleep(reply.delay_s)
        # Counted as done before the answer leaves: once the client has it, it may send the
        # next request, which must not find this one still counted as active.
        self.script.done()
        with contextlib.suppress(OSError):  # the client gave up waiting
            self._send(
                reply.status, echo(body) if reply.body is None else reply.body, reply.headers
            )

    def _send(self, status: int, body: Any, headers: dict[str, str]) -> None:
        raw = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()
    handler = type("ScriptedHandler", (Handler,), {"script": script})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1", script
    httpd.shutdown()
    httpd.server_close()


def backend(url: str, **kwargs: Any) -> OpenAIBackend:
    # Short backoff and timeouts keep the retry tests fast.
    options: dict[str, Any] = {"backoff_s": 0.01, "max_backoff_s": 0.05, "timeout_s": 5.0}
    return OpenAIBackend(url, **{**options, **kwargs})


def requests(count: int) -> list[SampleRequest]:
    return [SampleRequest("T/0", i, f"p{i}", 1000 + i) for i in range(count)]


def draw(b: OpenAIBackend, reqs: list[SampleRequest], **params: Any) -> list[Any]:
    return list(b.generate(reqs, SamplingParams(**params)))


def test_module_doctests_pass() -> None:
    assert doctest.testmod(openai_backend).failed == 0


# ---- the model and the request -------------------------------------------------------------


def test_model_id_is_the_servers_only_model(server: tuple[str, Script]) -> None:
    url, _ = server
    assert backend(url).model_id == "tiny"
    assert backend(url, model_name="other").model_id == "other"


def test_several_models_without_a_name_are_listed(server: tuple[str, Script]) -> None:
    url, script = server
    script.models = ["a", "b"]
    with pytest.raises(PasskError, match=r"serves several models \(a, b\); pick one with"):
        backend(url)
    script.models = []
    with pytest.raises(PasskError, match="lists no models"):
        backend(url)


def test_request_carries_the_sample_and_all_sampling_settings(
    server: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, script = server
    monkeypatch.setenv("PASSK_TEST_KEY", "sk-secret")
    b = backend(url, api_key_env="PASSK_TEST_KEY")
    [(_, completion)] = draw(
        b, requests(1), temperature=0.2, top_p=0.9, top_k=40, max_tokens=7, stop=CODEX_STOPS
    )
    assert completion.text == "<p0|1000>"
    assert script.bodies == [
        {
            "model": "tiny",
            "prompt": "p0",
            "n": 1,
            "max_tokens": 7,
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 40,
            "stop": list(CODEX_STOPS),
            "seed": 1000,
            "logprobs": 1,
        }
    ]
    assert script.headers[0]["Authorization"] == "Bearer sk-secret"


def test_top_k_off_and_no_key_are_not_sent(
    server: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, script = server
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    draw(backend(url), requests(1), top_k=0)
    assert "top_k" not in script.bodies[0] and "stop" not in script.bodies[0]
    assert "Authorization" not in script.headers[0]


# ---- retries and errors --------------------------------------------------------------------


def test_429_500_and_a_timeout_are_retried_until_success(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies.extend(
        [
            Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "0"}),
            Reply(500, "boom"),
            Reply(delay_s=2.0),  # past the client's timeout
        ]
    )
    [(_, completion)] = draw(backend(url, timeout_s=0.5), requests(1))
    assert completion.text == "<p0|1000>"
    assert len(script.bodies) == 4


def test_retry_after_is_honoured(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies.append(Reply(429, {}, {"Retry-After": "0.4"}))
    start = time.monotonic()
    draw(backend(url, max_backoff_s=5.0), requests(1))
    assert time.monotonic() - start >= 0.4
    assert len(script.bodies) == 2


def test_after_max_retries_one_clear_error(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies.extend([Reply(503, {"error": {"message": "overloaded\nretry later"}})] * 3)
    with pytest.raises(PasskError) as raised:
        draw(backend(url, max_retries=2), requests(1))
    message = str(raised.value)
    assert message == (
        f"POST {url}/completions failed 3 times; last error: HTTP 503: overloaded retry later"
    )
    assert len(script.bodies) == 3


def test_a_400_fails_at_once_with_the_servers_message(server: tuple[str, Script]) -> None:
    url, script = server
    error = {"message": "max_tokens is too large", "type": "invalid_request_error"}
    script.replies.append(Reply(400, {"error": error}))
    with pytest.raises(PasskError) as raised:
        draw(backend(url), requests(1))
    assert str(raised.value) == (
        f"POST {url}/completions refused: HTTP 400: max_tokens is too large"
    )
    assert len(script.bodies) == 1


def test_an_unreachable_server_fails_after_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed once the block ends: nothing listens there
    url = f"http://127.0.0.1:{port}/v1"
    start = time.monotonic()
    with pytest.raises(
        PasskError, match=rf"^POST {url}/completions failed 4 times; last error: ConnectError"
    ):
        draw(backend(url, model_name="m", max_retries=3), requests(1))
    assert time.monotonic() - start < 5


def test_model_listing_failure_names_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    with pytest.raises(PasskError, match=rf"^GET {url}/models failed 2 times; last error: Conn"):
        backend(url, max_retries=1)


def test_malformed_success_is_a_clear_error(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies.append(Reply(200, {"choices": []}))
    with pytest.raises(PasskError, match="answered with an unexpected shape"):
        draw(backend(url), requests(1))


# ---- concurrency ---------------------------------------------------------------------------


def test_concurrency_is_bounded_and_every_request_answered(server: tuple[str, Script]) -> None:
    url, script = server
    script.replies.extend([Reply(delay_s=0.2)] * 9)
    reqs = requests(9)
    results = draw(backend(url, concurrency=3), reqs)
    # Never more than 3 at once; and the bound is used (a loaded machine may start the third
    # request after the first has been answered).
    assert 2 <= script.max_active <= 3
    assert sorted(r.completion_id for r, _ in results) == list(range(9))
    assert all(c.text == f"<{r.prompt}|{r.seed}>" for r, c in results)


def test_results_come_as_they_finish(server: tuple[str, Script]) -> None:
    url, script = server
    script.by_prompt["p0"] = Reply(delay_s=0.5)
    order = [r.completion_id for r, _ in draw(backend(url, concurrency=2), requests(2))]
    assert order == [1, 0]


def test_stopping_early_sends_no_more_requests(server: tuple[str, Script]) -> None:
    url, script = server
    samples = backend(url, concurrency=2).generate(requests(10), SamplingParams())
    next(samples)
    samples.close()
    time.sleep(0.1)
    assert len(script.bodies) <= 2


# ---- stop sequences and log-probabilities --------------------------------------------------


def canned(text: str, tokens: list[str], logps: list[float], finish: str, base: int) -> dict:
    offsets, at = [], base
    for token in tokens:
        offsets.append(at)
        at += len(token)
    logprobs = {"tokens": tokens, "token_logprobs": logps, "text_offset": offsets}
    return {"choices": [{"text": text, "finish_reason": finish, "logprobs": logprobs}]}


@pytest.mark.parametrize("base", [0, 17])  # vLLM counts from the completion, OpenAI the prompt
def test_client_cuts_at_the_first_stop_and_counts_kept_tokens(
    server: tuple[str, Script], base: int
) -> None:
    url, script = server
    # The server applied no stop: the client cuts at "\nprint" (a straddling token counts).
    tokens = ["    return", " x", "\n", "print", "(x)", "\ndef"]
    logps = [-0.5, -1.0, -0.25, -2.0, -4.0, -8.0]
    body = canned("".join(tokens), tokens, logps, "length", base)
    script.replies.append(Reply(200, body))
    [(_, c)] = draw(backend(url), requests(1), stop=CODEX_STOPS)
    assert (c.text, c.finish_reason, c.num_tokens) == ("    return x", "stop", 2)
    assert c.sum_logp == pytest.approx(-1.5) and c.mean_logp == pytest.approx(-0.75)


def test_a_token_straddling_the_cut_is_kept() -> None:
    tokens, logps = ["a = 1", "\n#", " note"], [-1.0, -2.0, -3.0]
    c = parse_completion(canned("a = 1\n# note", tokens, logps, "length", 3), ["1\n#"])
    assert (c.text, c.num_tokens, c.sum_logp) == ("a = ", 1, -1.0)
    c = parse_completion(canned("a = 1\n# note", tokens, logps, "length", 3), ["\n# no"])
    assert (c.text, c.num_tokens, c.sum_logp) == ("a = 1", 1, -1.0)
    c = parse_completion(canned("a = 1\n# note", tokens, logps, "length", 3), [" 1\n"])
    assert (c.text, c.num_tokens) == ("a =", 1)


def test_tokens_past_a_servers_own_stop_do_not_count() -> None:
    # vLLM cut the text at "\ndef" but reports every generated token, and the end-of-text one.
    tokens, logps = ["x", "\n", "def", ""], [-1.0, -2.0, -3.0, -4.0]
    c = parse_completion(canned("x", tokens, logps, "stop", 9), ["\ndef"])
    assert (c.text, c.finish_reason, c.num_tokens, c.sum_logp) == ("x", "stop", 1, -1.0)


def test_a_length_finish_counts_every_token() -> None:
    tokens, logps = ["a", "b", ""], [-1.0, -2.0, -3.0]  # the last completes no character
    c = parse_completion(canned("ab", tokens, logps, "length", 0), CODEX_STOPS)
    assert (c.text, c.finish_reason, c.num_tokens, c.sum_logp) == ("ab", "length", 3, -6.0)


def test_a_cut_at_the_start_keeps_no_tokens() -> None:
    c = parse_completion(canned("\ndef f", ["\n", "def", " f"], [-1.0] * 3, "length", 4), ["\n"])
    assert (c.text, c.num_tokens, c.sum_logp, c.mean_logp) == ("", 0, 0.0, None)


def test_offsets_missing_fall_back_to_token_lengths() -> None:
    data = canned("ab\ndef", ["ab", "\ndef"], [-1.0, -2.0], "length", 0)
    del data["choices"][0]["logprobs"]["text_offset"]
    assert parse_completion(data, ["\ndef"]).sum_logp == -1.0


def test_without_logprobs_the_servers_token_count_is_used() -> None:
    data = {
        "choices": [{"text": "abc", "finish_reason": "stop"}],
        "usage": {"completion_tokens": 5},
    }
    c = parse_completion(data, [])
    assert (c.text, c.num_tokens, c.sum_logp, c.mean_logp, c.finish_reason) == (
        "abc",
        5,
        None,
        None,
        "stop",
    )
