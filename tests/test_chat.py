"""The chat path over real HTTP on 127.0.0.1: OpenAIChatBackend against scripted chat servers
(the request it sends, reasoning and usage kept, bad answers recorded with their reason or
asked again, refusals, servers that ignore `n`, settings a server refuses), several endpoints
(spreading, one failing or dropping connections, one stopped mid-run: every sample exactly
once), and `passk serve`'s /v1/chat/completions with the official `openai` client and a tiny
model that has a chat template.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from passk.errors import InputError, PasskError
from passk.generation.backends import open_backend
from passk.generation.openai_backend import OpenAIBackend, OpenAIChatBackend
from passk.generation.server import plain_chat_prompt, start_in_thread
from passk.generation.types import (
    AnswerFailure,
    Completion,
    Message,
    SampleRequest,
    SamplingParams,
    Usage,
    sample_seed,
)

# ---- a scripted chat server ----------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, or a str sent as is; None: a success echoing the request
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    drop: bool = False  # close the connection without answering
    choices: int | None = None  # for echoes: how many choices (None: as many as asked)


def echo(body: dict[str, Any], choices: int | None) -> dict[str, Any]:
    """A success whose answers name the last message, the seed and the choice."""
    last = body["messages"][-1]["content"] if "messages" in body else body.get("prompt")
    count = body.get("n", 1) if choices is None else choices
    answers = [
        {
            "index": i,
            "message": {"role": "assistant", "content": f"<{last}|{body.get('seed')}|{i}>"},
            "finish_reason": "stop",
        }
        for i in range(count)
    ]
    if "prompt" in body:
        answers = [
            {"index": 0, "text": a["message"]["content"], "finish_reason": "stop"} for a in answers
        ]
    return {"choices": answers, "usage": {"prompt_tokens": 7, "completion_tokens": 3 * count}}


class Script:
    """What one server answers, in order, and what it saw."""

    def __init__(self, model: str = "chat-model") -> None:
        self.replies: deque[Reply] = deque()
        self.always: Reply | None = None
        self.model = model
        self.bodies: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def next(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.bodies.append(body)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            if self.replies:
                return self.replies.popleft()
            return self.always or Reply()

    def done(self) -> None:
        with self.lock:
            self.active -= 1


class Handler(BaseHTTPRequestHandler):
    script: Script

    def do_GET(self) -> None:
        self._send(200, {"object": "list", "data": [{"id": self.script.model}]}, {})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        reply = self.script.next(body)
        time.sleep(reply.delay_s)
        # Counted as done before the answer leaves: once the client has it, it may send the
        # next request, which must not find this one still counted as active.
        self.script.done()
        if reply.drop:
            self.close_connection = True
            return
        answer = echo(body, reply.choices) if reply.body is None else reply.body
        with contextlib.suppress(OSError):
            self._send(reply.status, answer, reply.headers)

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
def servers() -> Iterator[Callable[..., tuple[str, Script]]]:
    """Start scripted servers on demand; all are shut down at the end."""
    started: list[ThreadingHTTPServer] = []

    def start(model: str = "chat-model") -> tuple[str, Script]:
        script = Script(model)
        handler = type("ScriptedHandler", (Handler,), {"script": script})
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True).start()
        started.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}/v1", script

    yield start
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


def chat(urls: str | list[str], **kwargs: Any) -> OpenAIChatBackend:
    options: dict[str, Any] = {"backoff_s": 0.01, "max_backoff_s": 0.05, "timeout_s": 5.0}
    return OpenAIChatBackend(urls, **{**options, **kwargs})


def requests(count: int, messages: tuple[Message, ...] | None = None) -> list[SampleRequest]:
    return [SampleRequest("T/0", i, f"p{i}", 1000 + i, messages) for i in range(count)]


def asked(text: str) -> tuple[Message, ...]:
    return (Message("user", text),)


def draw(b: Any, reqs: list[SampleRequest], **params: Any) -> dict[tuple[str, int], Completion]:
    results = list(b.generate(reqs, SamplingParams(**params)))
    keys = [r.key for r, _ in results]
    assert sorted(keys) == sorted(r.key for r in reqs), "every sample exactly once"
    return {r.key: c for r, c in results}


def free_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/v1"  # nothing listens once closed


# ---- the request and the answer ------------------------------------------------------------


def test_the_request_carries_the_messages_the_seed_and_the_settings(servers: Any) -> None:
    url, script = servers()
    messages = (Message("system", "Be brief."), Message("user", "Write f."))
    [c] = draw(chat(url), requests(1, messages), temperature=0.2, top_p=0.9, top_k=5,
               max_tokens=64, stop=("\nEND",)).values()  # fmt: skip
    assert script.bodies == [
        {
            "model": "chat-model",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Write f."},
            ],
            "n": 1,
            "temperature": 0.2,
            "top_p": 0.9,
            "seed": 1000,
            "max_tokens": 64,
            "logprobs": True,
            "stop": ["\nEND"],
            "top_k": 5,
        }
    ]
    assert (c.text, c.finish_reason, c.num_tokens, c.failure) == (
        "<Write f.|1000|0>",
        "stop",
        3,
        None,
    )
    assert c.usage == Usage(prompt_tokens=7, completion_tokens=3, reasoning_tokens=None, samples=1)


def test_a_request_without_messages_sends_its_prompt_as_the_user_message(servers: Any) -> None:
    url, script = servers()
    draw(chat(url), requests(1))
    assert script.bodies[0]["messages"] == [{"role": "user", "content": "p0"}]


def test_a_response_prefix_is_continued_and_kept_in_the_text(servers: Any) -> None:
    url, script = servers()
    prefix = (Message("user", "Write f."), Message("assistant", "```python\n"))
    [c] = draw(chat(url), requests(1, prefix)).values()
    assert script.bodies[0]["continue_final_message"] is True
    assert script.bodies[0]["add_generation_prompt"] is False
    assert c.text == "```python\n<```python\n|1000|0>"


def token_logprob(token: str, logprob: float) -> dict[str, Any]:
    return {"token": token, "logprob": logprob, "bytes": list(token.encode()), "top_logprobs": []}


@pytest.mark.parametrize("with_bytes", [True, False])
def test_reasoning_usage_and_logprobs_are_kept(servers: Any, with_bytes: bool) -> None:
    url, script = servers()
    # "é" is two bytes: token starts count bytes where the server gives them, else characters.
    tokens = [("dé", -0.5), (" f", -1.0), ("\nEND", -2.0), ("x", -4.0)]
    entries = [token_logprob(t, lp) for t, lp in tokens]
    if not with_bytes:
        entries = [{k: v for k, v in e.items() if k != "bytes"} for e in entries]
    answer = {
        "choices": [
            {
                "message": {"content": "dé f\nENDx", "reasoning_content": "Think first."},
                "finish_reason": "stop",
                "logprobs": {"content": entries},
            }
        ],
        "usage": {
            "prompt_tokens": 11,
            "completion_tokens": 40,
            "completion_tokens_details": {"reasoning_tokens": 36},
        },
    }
    script.replies.append(Reply(body=answer))
    [c] = draw(chat(url), requests(1), stop=("\nEND",)).values()
    assert (c.text, c.reasoning, c.num_tokens, c.sum_logp, c.mean_logp) == (
        "dé f",
        "Think first.",
        2,
        -1.5,
        -0.75,
    )
    assert c.usage == Usage(prompt_tokens=11, completion_tokens=40, reasoning_tokens=36)


def test_a_reasoning_model_that_ran_out_of_tokens_has_an_empty_answer(servers: Any) -> None:
    url, script = servers()
    choice = {"message": {"content": None, "reasoning": "Let me see"}, "finish_reason": "length"}
    script.replies.append(Reply(body={"choices": [choice], "usage": {"completion_tokens": 64}}))
    [c] = draw(chat(url), requests(1)).values()
    assert (c.text, c.finish_reason, c.reasoning, c.failure) == ("", "length", "Let me see", None)
    assert c.num_tokens == 64 and len(script.bodies) == 1


# ---- bad answers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (Reply(body={"choices": []}), "no choices (3 times)"),
        (Reply(body={"id": "x"}), "no choices (3 times)"),
        (
            Reply(body={"choices": [{"message": {"content": None}, "finish_reason": "stop"}]}),
            "null content (3 times)",
        ),
        (
            Reply(body={"error": {"message": "upstream provider\nfailed", "code": 502}}),
            "an error object: upstream provider failed (3 times)",
        ),
        (Reply(body="<html>Bad gateway</html>"), "the answer is not a JSON object (3 times)"),
        (Reply(body={"choices": [{"text": "x"}]}), "a choice without a message (3 times)"),
    ],
)
def test_a_bad_answer_is_asked_again_then_recorded_and_the_run_goes_on(
    servers: Any, bad: Reply, reason: str
) -> None:
    url, script = servers()
    script.replies.extend([bad] * 3)  # the first sample's three tries; the others are fine
    results = draw(chat(url, concurrency=1, bad_answer_retries=2), requests(3))
    failed = results[("T/0", 0)]
    assert (failed.text, failed.failure, failed.error) == ("", AnswerFailure.NO_ANSWER, reason)
    assert [results[("T/0", i)].text for i in (1, 2)] == ["<p1|1001|0>", "<p2|1002|0>"]
    assert len(script.bodies) == 5


def test_a_bad_answer_then_a_good_one_is_a_normal_sample(servers: Any) -> None:
    url, script = servers()
    script.replies.append(Reply(body={"choices": []}))
    [c] = draw(chat(url), requests(1)).values()
    assert (c.text, c.failure) == ("<p0|1000|0>", None)
    assert len(script.bodies) == 2


@pytest.mark.parametrize(
    ("message", "finish", "error"),
    [
        (
            {"content": None, "refusal": "I can't help with that."},
            "stop",
            "refusal: I can't help with that.",
        ),
        ({"content": None}, "content_filter", "finish_reason: content_filter"),
    ],
)
def test_a_refusal_is_recorded_at_once(
    servers: Any, message: dict[str, Any], finish: str, error: str
) -> None:
    url, script = servers()
    script.replies.append(Reply(body={"choices": [{"message": message, "finish_reason": finish}]}))
    [c] = draw(chat(url), requests(1)).values()
    assert (c.text, c.failure, c.error) == ("", AnswerFailure.REFUSED, error)
    assert len(script.bodies) == 1


def test_server_errors_are_retried_and_a_400_stops_the_run(servers: Any) -> None:
    url, script = servers()
    script.replies.extend([Reply(500, "boom"), Reply(429, {}, {"Retry-After": "0"})])
    [c] = draw(chat(url), requests(1)).values()
    assert c.text == "<p0|1000|0>" and len(script.bodies) == 3
    script.replies.append(Reply(400, {"error": {"message": "messages: too long"}}))
    with pytest.raises(
        PasskError, match=r"/chat/completions refused: HTTP 400: messages: too long$"
    ):
        draw(chat(url), requests(1))


def test_settings_the_server_refuses_are_changed_once(servers: Any) -> None:
    url, script = servers()
    script.replies.extend(
        [
            Reply(400, {"error": {"message": "Unsupported parameter: 'max_tokens'. Use 'max_completion_tokens' instead."}}),
            Reply(400, {"error": {"message": "logprobs is not supported with this model"}}),
        ]
    )  # fmt: skip
    backend = chat(url, concurrency=1)
    draw(backend, requests(2), max_tokens=9)
    first, second, third, fourth = script.bodies
    assert "max_tokens" in first and "max_completion_tokens" in second
    assert second["logprobs"] and "logprobs" not in third
    assert third["max_completion_tokens"] == fourth["max_completion_tokens"] == 9
    assert "logprobs" not in fourth and "max_tokens" not in fourth


# ---- n -------------------------------------------------------------------------------------


def test_samples_of_one_prompt_are_asked_for_together(servers: Any) -> None:
    url, script = servers()
    reqs = [*requests(5, asked("a")), SampleRequest("T/1", 0, "b", 7, asked("b"))]
    results = draw(chat(url, samples_per_request=3, concurrency=1), reqs)
    assert [(b["n"], b["seed"]) for b in script.bodies] == [(3, 1000), (2, 1003), (1, 7)]
    assert [results[("T/0", i)].text for i in range(5)] == [
        "<a|1000|0>",
        "<a|1000|1>",
        "<a|1000|2>",
        "<a|1003|0>",
        "<a|1003|1>",
    ]
    assert results[("T/0", 0)].usage == Usage(7, 9, None, samples=3)
    assert results[("T/0", 0)].num_tokens == 0  # the request's 9 tokens cannot be split


def test_a_server_that_ignores_n_gets_n_requests(servers: Any) -> None:
    url, script = servers()
    script.always = Reply(choices=1)
    results = draw(chat(url, samples_per_request=4), requests(4, asked("a")))
    assert [(b["n"], b["seed"]) for b in script.bodies] == [
        (4, 1000),
        (3, 1001),
        (2, 1002),
        (1, 1003),
    ]
    assert sorted(c.text for c in results.values()) == [f"<a|{1000 + i}|0>" for i in range(4)]


def test_more_choices_than_asked_are_not_used(servers: Any) -> None:
    url, script = servers()
    script.always = Reply(choices=5)
    results = draw(chat(url, samples_per_request=2), requests(2, asked("a")))
    assert len(script.bodies) == 1 and len(results) == 2


# ---- several endpoints ---------------------------------------------------------------------


def test_requests_are_spread_over_endpoints_within_the_total_concurrency(servers: Any) -> None:
    (url_a, a), (url_b, b) = servers(), servers()
    a.always = b.always = Reply(delay_s=0.1)
    backend = chat([url_a, url_b], concurrency=4)
    results = draw(backend, requests(16))
    assert all(c.text == f"<p{i}|{1000 + i}|0>" for (_, i), c in results.items())
    assert len(a.bodies) + len(b.bodies) == 16 and min(len(a.bodies), len(b.bodies)) >= 6
    assert a.max_active + b.max_active <= 4
    assert [e["requests"] for e in backend.endpoints.report()] == [len(a.bodies), len(b.bodies)]


def test_a_faster_endpoint_takes_more_of_the_work(servers: Any) -> None:
    (url_a, a), (url_b, b) = servers(), servers()
    a.always, b.always = Reply(delay_s=0.01), Reply(delay_s=0.2)
    draw(chat([url_a, url_b], concurrency=2), requests(20))
    assert len(a.bodies) > 2 * len(b.bodies)


def test_a_failing_endpoint_is_taken_out_and_no_sample_is_lost(servers: Any) -> None:
    (url_a, a), (url_b, b) = servers(), servers()
    b.always = Reply(500, {"error": {"message": "overloaded"}})
    backend = chat([url_a, url_b], concurrency=3, pause_s=60.0)
    results = draw(backend, requests(30))
    assert all(c.text == f"<p{i}|{1000 + i}|0>" for (_, i), c in results.items())
    report = backend.endpoints.report()
    # Taken out after 3 failures; requests already in flight to it fail as well.
    assert report[1]["pauses"] == 1 and report[1]["failures"] == len(b.bodies)
    assert 3 <= len(b.bodies) <= 5
    assert len(a.bodies) == 30 and report[0]["failures"] == 0


def test_an_endpoint_is_back_after_its_pause(servers: Any) -> None:
    (url_a, _), (url_b, b) = servers(), servers()
    b.replies.extend([Reply(500, "down")] * 3)  # then fine again
    # No cooling down after a failure: B is chosen every other time until it is taken out.
    backend = chat([url_a, url_b], concurrency=1, pause_s=0.3, backoff_s=0.0)
    draw(backend, requests(8))
    assert len(b.bodies) == 3
    time.sleep(0.4)
    before = len(b.bodies)
    draw(backend, requests(6))
    assert backend.endpoints.report()[1]["pauses"] == 1
    assert len(b.bodies) > before  # chosen again, and it answered


def test_an_endpoint_that_drops_connections_or_is_down(servers: Any) -> None:
    (url_a, _), (url_b, b) = servers(), servers()
    b.always = Reply(drop=True)
    results = draw(chat([url_a, url_b], concurrency=2), requests(12))
    assert all(c.text == f"<p{i}|{1000 + i}|0>" for (_, i), c in results.items())
    results = draw(chat([free_port_url(), url_a], model_name="chat-model"), requests(6))
    assert len(results) == 6


def test_every_endpoint_failing_stops_the_run_with_one_clear_error(servers: Any) -> None:
    (url_a, a), (url_b, b) = servers(), servers()
    a.always = b.always = Reply(503, {"error": {"message": "down"}})
    with pytest.raises(PasskError) as raised:
        draw(chat([url_a, url_b], max_retries=3), requests(1))
    message = str(raised.value)
    assert message.startswith(f"POST /chat/completions at {url_a},{url_b} failed 4 times;")
    assert "last error: HTTP 503: down (from http://127.0.0.1:" in message


def test_endpoints_must_serve_the_same_model(servers: Any) -> None:
    (url_a, _), (url_b, _) = servers("m1"), servers("m2")
    with pytest.raises(PasskError, match=r"^the endpoints serve different models \("):
        chat([url_a, url_b])
    assert chat([url_a, url_b], model_name="m1").model_id == "m1"


def test_the_completions_backend_takes_several_endpoints_too(servers: Any) -> None:
    (url_a, _), (url_b, b) = servers(), servers()
    b.always = Reply(drop=True)
    backend = OpenAIBackend([url_a, url_b], backoff_s=0.01, max_backoff_s=0.05, concurrency=2)
    results = list(backend.generate(requests(10), SamplingParams()))
    assert sorted(r.completion_id for r, _ in results) == list(range(10))
    assert all(c.text == f"<{r.prompt}|{r.seed}|0>" for r, c in results)


def test_open_backend_reads_the_model_argument(servers: Any) -> None:
    (url_a, _), (url_b, _) = servers(), servers()
    backend = open_backend(f"openai-chat:{url_a},{url_b}", concurrency=3)
    assert isinstance(backend, OpenAIChatBackend) and backend.concurrency == 3
    assert [e["url"] for e in backend.endpoints.report()] == [url_a, url_b]
    assert type(open_backend(f"openai:{url_a}")) is OpenAIBackend
    with pytest.raises(InputError, match=r"^openai-chat:URL needs an http\(s\) URL, got 'x'$"):
        open_backend(f"openai-chat:{url_a},x")
    with pytest.raises(InputError, match="names an endpoint twice"):
        open_backend(f"openai:{url_a},{url_a}")


# ---- passk serve: /v1/chat/completions -----------------------------------------------------


class EchoBackend:
    """A backend whose completion shows the prompt it was given and the settings."""

    model_id = "echo"

    def generate(self, requests: Any, params: SamplingParams) -> Iterator[Any]:
        for r in requests:
            text = f"{r.prompt}|stop={list(params.stop)}|max={params.max_tokens}|seed={r.seed}"
            tokens = tuple(text)
            yield r, Completion(text, len(tokens), -1.0 * len(tokens), -1.0, "stop",
                                tokens=tokens, token_logprobs=(-1.0,) * len(tokens))  # fmt: skip

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    url, stop = start_in_thread(EchoBackend())
    yield url
    stop()


def test_the_openai_client_chats_with_passk_serve(echo_url: str) -> None:
    client = openai.OpenAI(base_url=echo_url, api_key="x", max_retries=0)
    response = client.chat.completions.create(
        model="echo",
        messages=[{"role": "system", "content": "S"}, {"role": "user", "content": "U"}],
        max_completion_tokens=9,
        n=2,
        seed=4,
        stop=["\nEND"],
        logprobs=True,
    )
    assert response.object == "chat.completion" and response.id.startswith("chatcmpl-")
    prompt = "### System\nS\n\n### User\nU\n\n### Assistant\n"
    stops = ["\nEND", "\n### User", "\n### System"]
    texts = [c.message.content for c in response.choices]
    assert texts == [
        f"{prompt}|stop={stops}|max=9|seed=4",
        f"{prompt}|stop={stops}|max=9|seed={sample_seed(4, '0', 1)}",
    ]
    assert [c.message.role for c in response.choices] == ["assistant", "assistant"]
    logprobs = response.choices[0].logprobs
    assert logprobs is not None and logprobs.content is not None
    assert "".join(t.token for t in logprobs.content) == texts[0]
    assert logprobs.content[0].bytes == list(texts[0][0].encode())
    assert response.usage is not None and response.usage.completion_tokens == sum(map(len, texts))


def test_a_final_assistant_message_is_continued(echo_url: str) -> None:
    messages = [{"role": "user", "content": "U"}, {"role": "assistant", "content": "```py"}]
    body = {"model": "echo", "messages": messages, "continue_final_message": True}
    answer = httpx.post(f"{echo_url}/chat/completions", json=body).json()
    assert answer["choices"][0]["message"]["content"].startswith(
        "### User\nU\n\n### Assistant\n```py|"
    )
    assert plain_chat_prompt([{"role": "user", "content": "U"}]) == "### User\nU\n\n### Assistant\n"


@pytest.mark.parametrize(
    ("change", "param", "message"),
    [
        ({"messages": []}, "messages", "messages must not be empty"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages", "unsupported message role 'tool'"),
        ({"top_logprobs": 2}, "top_logprobs", "top_logprobs is not supported (the backend gives none)"),
        ({"stream": True}, "stream", "stream is not supported"),
        ({"tools": []}, "tools", "Unrecognized request argument supplied: tools"),
        ({"continue_final_message": True}, "continue_final_message", "continue_final_message needs a final assistant message"),
        ({"max_tokens": 5, "max_completion_tokens": 6}, "max_completion_tokens", "max_tokens and max_completion_tokens disagree"),
        ({"model": "gpt-4"}, "model", "The model `gpt-4` does not exist; this server serves `echo`"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages", "only text content parts are supported"),
    ],
)  # fmt: skip
def test_bad_chat_requests_get_openai_style_400s(
    echo_url: str, change: dict[str, Any], param: str, message: str
) -> None:
    body = {"model": "echo", "messages": [{"role": "user", "content": "U"}], **change}
    answer = httpx.post(f"{echo_url}/chat/completions", json=body)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["message"], error["param"]) == (message, param)


# ---- the whole path with a tiny model that has a chat template -----------------------------


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tiny_model = pytest.importorskip("tiny_model", reason="tests/tiny_model.py is not there")
    path = tmp_path_factory.mktemp("tiny") / "tiny-chat"
    return Path(tiny_model.make_tiny_model(path, chat_template=tiny_model.CHAT_TEMPLATE))


@pytest.fixture(scope="module")
def local_pair(tiny_chat_model: Path) -> Iterator[tuple[Any, Any]]:
    local = pytest.importorskip("passk.generation.local")
    first = local.LocalBackend(tiny_chat_model, device="cpu", batch_size=8)
    second = local.LocalBackend(tiny_chat_model, device="cpu", batch_size=8)
    yield first, second
    first.close()
    second.close()


PROBLEMS = [
    (Message("user", "Write a function that adds two numbers."),),
    (Message("system", "Answer in Python."), Message("user", "def is_even(n):")),
]
PARAMS = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=16, stop=("\n\n",))


def chat_requests(n: int) -> list[SampleRequest]:
    return [
        SampleRequest(f"T/{p}", i, "", sample_seed(5, f"T/{p}", i), messages)
        for p, messages in enumerate(PROBLEMS)
        for i in range(n)
    ]


def local_samples(backend: Any, reqs: list[SampleRequest]) -> dict[tuple[str, int], str]:
    """What the local backend draws for the prompts the chat template makes."""
    rendered = []
    for r in reqs:
        messages = [{"role": m.role, "content": m.content} for m in r.messages or ()]
        prompt = backend.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        rendered.append(SampleRequest(r.task_id, r.completion_id, prompt, r.seed))
    stops = (*PARAMS.stop, "<|endoftext|>")
    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=16, stop=stops)
    return {r.key: c.text for r, c in backend.generate(rendered, params)}


def test_chat_over_passk_serve_reproduces_the_local_samples(local_pair: tuple[Any, Any]) -> None:
    first, _ = local_pair
    reqs = chat_requests(3)
    url, stop = start_in_thread(first)
    try:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        answer = client.chat.completions.create(
            model=first.model_id, messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
        assert answer.choices[0].finish_reason in ("stop", "length")
        backend = OpenAIChatBackend(url, timeout_s=60, max_retries=0)
        over_http = {r.key: c.text for r, c in backend.generate(reqs, PARAMS)}
    finally:
        stop()
    expected = local_samples(first, reqs)
    assert over_http == expected
    assert len(set(expected.values())) > 1  # the seeds are used


def test_two_endpoints_one_stopped_mid_run_every_sample_exactly_once(
    local_pair: tuple[Any, Any],
) -> None:
    first, second = local_pair
    reqs = chat_requests(8)
    url_a, stop_a = start_in_thread(first)
    url_b, stop_b = start_in_thread(second)
    stopper = threading.Thread(target=stop_b)
    try:
        backend = OpenAIChatBackend([url_a, url_b], concurrency=2, timeout_s=60, backoff_s=0.01)
        results: list[tuple[SampleRequest, Completion]] = []
        for item in backend.generate(reqs, PARAMS):
            results.append(item)
            if len(results) == 4:
                stopper.start()  # endpoint B goes away while samples are in flight
        report = backend.endpoints.report()
    finally:
        stopper.join()
        stop_a()
    keys = [r.key for r, _ in results]
    assert sorted(keys) == sorted(r.key for r in reqs) and len(keys) == len(set(keys))
    assert {r.key: c.text for r, c in results} == local_samples(first, reqs)
    assert report[1]["requests"] >= 1 and report[1]["failures"] >= 1
    assert report[0]["requests"] > report[1]["requests"] - report[1]["failures"]


STRICT_TEMPLATE = (
    "{% for m in messages %}{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant') }}{% endif %}"
    "[{{ m['role'] }}]{{ m['content'] }}[/turn]\n{% endfor %}"
    "{% if add_generation_prompt %}[assistant]{% endif %}"
)


def test_a_tokenizers_chat_template_renders_the_prompt_and_ends_the_turn() -> None:
    tiny_model = pytest.importorskip("tiny_model", reason="tests/tiny_model.py is not there")
    backend = EchoBackend()
    backend.tokenizer = tiny_model.make_tokenizer(300)  # type: ignore[attr-defined]
    backend.tokenizer.chat_template = STRICT_TEMPLATE  # type: ignore[attr-defined]
    url, stop = start_in_thread(backend)
    try:
        body = {"model": "echo", "messages": [{"role": "user", "content": "U"}], "stop": "Z"}
        answer = httpx.post(f"{url}/chat/completions", json=body).json()
        text = answer["choices"][0]["message"]["content"]
        assert text.startswith("[user]U[/turn]\n[assistant]|stop=['Z', '[/turn]']|")
        body["messages"] = [{"role": "assistant", "content": "A"}]
        answer = httpx.post(f"{url}/chat/completions", json=body)
    finally:
        stop()
    assert answer.status_code == 400
    assert answer.json()["error"]["message"] == (
        "the chat template cannot render these messages: "
        "Conversation roles must alternate user/assistant"
    )
