"""`passk serve` on 127.0.0.1 (ephemeral port), called by the official `openai` client and by
passk's own OpenAIBackend: response shape, seeds, logprobs, OpenAI-style 400s, requests
served one at a time; and over the real LocalBackend with a tiny model, the HTTP round trip
reproduces local samples.
"""

from __future__ import annotations

import dataclasses
import doctest
import random
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import openai
import pytest

from passk.errors import ExecutionError, InputError
from passk.generation import server
from passk.generation.openai_backend import OpenAIBackend
from passk.generation.server import choice_seed, start_in_thread
from passk.generation.types import (
    Completion,
    SampleRequest,
    SamplingParams,
    cut_at_stop,
    sample_seed,
)

PIECES = ["x", " = ", "1", "\n", "def", " f", "(", ")", ":", "    return", " y", "\n#"]


class ScriptBackend:
    """A deterministic backend: a sample's tokens follow from its prompt and seed (the prompt
    alone when greedy). Prompts over 20 words are too long. Records what it was asked."""

    model_id = "script-model"

    def __init__(self, token_data: bool = True, delay_s: float = 0.0) -> None:
        self.token_data = token_data
        self.delay_s = delay_s
        self.seen: list[SampleRequest] = []
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(
        self, requests: Sequence[SampleRequest], params: SamplingParams
    ) -> Iterator[tuple[SampleRequest, Completion]]:
        if any(len(r.prompt.split()) > 20 for r in requests):
            raise InputError("the prompt is longer than the model's context window")
        with self.lock:
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        time.sleep(self.delay_s)
        self.seen += requests
        try:
            for request in reversed(requests):  # any order is allowed
                yield request, self.sample(request, params)
        finally:
            with self.lock:
                self.active -= 1

    def sample(self, request: SampleRequest, params: SamplingParams) -> Completion:
        rng = random.Random(request.prompt if params.greedy else f"{request.prompt}|{request.seed}")
        picks = [rng.randrange(len(PIECES)) for _ in range(params.max_tokens)]
        tokens = [PIECES[i] for i in picks]
        text, stopped = cut_at_stop("".join(tokens), params.stop)
        starts = [sum(map(len, tokens[:i])) for i in range(len(tokens))]
        kept = sum(1 for s in starts if s < len(text)) if stopped else len(tokens)
        logps = tuple(-(i + 1) / 8 for i in picks[:kept])
        reason = "stop" if stopped else "length"
        total = sum(logps)
        completion = Completion(text, kept, total, total / kept if kept else None, reason)
        if not self.token_data:
            return completion
        return dataclasses.replace(completion, tokens=tuple(tokens[:kept]), token_logprobs=logps)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, ScriptBackend]]:
    backend = ScriptBackend()
    url, stop = start_in_thread(backend)
    yield url, backend
    stop()


@pytest.fixture
def client(served: tuple[str, ScriptBackend]) -> openai.OpenAI:
    return openai.OpenAI(base_url=served[0], api_key="x", max_retries=0)


def test_module_doctests_pass() -> None:
    assert doctest.testmod(server).failed == 0


def test_models_lists_the_backend(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["script-model"]


def test_completion_has_openai_shape_and_the_backends_samples(
    served: tuple[str, ScriptBackend], client: openai.OpenAI
) -> None:
    _, backend = served
    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=12, stop=("\ndef", "\n#"))
    response = client.completions.create(
        model="script-model",
        prompt="def add(a, b):",
        n=3,
        temperature=0.8,
        top_p=0.95,
        max_tokens=12,
        stop=["\ndef", "\n#"],
        logprobs=1,
        seed=7,
    )
    assert response.object == "text_completion" and response.model == "script-model"
    assert response.id.startswith("cmpl-") and response.created > 0
    assert [c.index for c in response.choices] == [0, 1, 2]
    requests = [SampleRequest("-", i, "def add(a, b):", choice_seed(7, 0, i)) for i in range(3)]
    for choice, request in zip(response.choices, requests, strict=True):
        expected = backend.sample(request, params)
        assert (choice.text, choice.finish_reason) == (expected.text, expected.finish_reason)
        assert choice.logprobs is not None
        assert choice.logprobs.tokens == list(expected.tokens)
        assert sum(choice.logprobs.token_logprobs or []) == pytest.approx(expected.sum_logp)
        # OpenAI counts offsets from the start of the prompt.
        starts = [
            len("def add(a, b):") + len("".join(expected.tokens[:i]))
            for i in range(len(expected.tokens))
        ]
        assert choice.logprobs.text_offset == starts
        assert choice.logprobs.top_logprobs is None
    assert response.usage is not None
    assert response.usage.prompt_tokens == 3
    completion_tokens = sum(backend.sample(r, params).num_tokens for r in requests)
    assert response.usage.completion_tokens == completion_tokens
    assert response.usage.total_tokens == 3 + completion_tokens


def test_seed_of_the_first_choice_is_the_requests_seed(
    served: tuple[str, ScriptBackend], client: openai.OpenAI
) -> None:
    _, backend = served
    backend.seen.clear()
    one = client.completions.create(model="script-model", prompt="a", max_tokens=8, seed=123, n=1)
    three = client.completions.create(model="script-model", prompt="a", max_tokens=8, seed=123, n=3)
    assert [r.seed for r in backend.seen] == [
        123,
        123,
        sample_seed(123, "0", 1),
        sample_seed(123, "0", 2),
    ]
    assert one.choices[0].text == three.choices[0].text
    assert len({c.text for c in three.choices}) > 1


def test_several_prompts_are_answered_prompt_by_prompt(
    served: tuple[str, ScriptBackend], client: openai.OpenAI
) -> None:
    _, backend = served
    backend.seen.clear()
    response = client.completions.create(
        model="script-model", prompt=["a", "b"], n=2, max_tokens=6, seed=5
    )
    params = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=6)
    expected = [
        backend.sample(SampleRequest("-", 0, p, choice_seed(5, i, j)), params).text
        for i, p in enumerate("ab")
        for j in range(2)
    ]
    assert [c.text for c in response.choices] == expected
    assert [c.index for c in response.choices] == [0, 1, 2, 3]
    assert all(c.logprobs is None for c in response.choices)  # not asked for


def test_without_a_seed_every_choice_gets_a_fresh_one(
    served: tuple[str, ScriptBackend], client: openai.OpenAI
) -> None:
    _, backend = served
    backend.seen.clear()
    client.completions.create(model="script-model", prompt="a", n=2, max_tokens=4)
    client.completions.create(model="script-model", prompt="a", n=2, max_tokens=4)
    assert len({r.seed for r in backend.seen}) == 4


def test_logprobs_are_null_when_the_backend_has_no_token_data() -> None:
    url, stop = start_in_thread(ScriptBackend(token_data=False))
    try:
        client = openai.OpenAI(base_url=url, api_key="x", max_retries=0)
        response = client.completions.create(model="script-model", prompt="a", logprobs=1)
        assert response.choices[0].logprobs is None
    finally:
        stop()


def test_requests_are_served_one_at_a_time() -> None:
    backend = ScriptBackend(delay_s=0.05)
    url, stop = start_in_thread(backend)
    try:
        body = {"model": "script-model", "prompt": "a", "max_tokens": 2}
        with ThreadPoolExecutor(6) as pool:
            answers = list(
                pool.map(lambda _: httpx.post(f"{url}/completions", json=body), range(6))
            )
        assert [a.status_code for a in answers] == [200] * 6
        assert backend.max_active == 1 and len(backend.seen) == 6
    finally:
        stop()


# ---- bad requests --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "param", "message"),
    [
        ({"n": 0}, "n", "n must be at least 1, got 0"),
        ({"temperature": -1}, "temperature", "temperature must be 0 or more, got -1.0"),
        ({"top_p": 0}, "top_p", "top_p must be in (0, 1], got 0.0"),
        ({"top_k": -2}, "top_k", "top_k must be -1 or 0 (off) or more, got -2"),
        ({"max_tokens": 0}, "max_tokens", "max_tokens must be at least 1, got 0"),
        ({"logprobs": -1}, "logprobs", "logprobs must be 0 or more"),
        ({"seed": -1}, "seed", "seed must be in [0, 2**63), got -1"),
        ({"echo": True}, "echo", "echo is not supported"),
        ({"stream": True}, "stream", "stream is not supported"),
        ({"best_of": 3}, "best_of", "best_of other than n is not supported"),
        ({"frequency_penalty": 0.5}, "frequency_penalty", "frequency_penalty is not supported"),
        ({"prompt": []}, "prompt", "prompt must not be an empty list"),
        (
            {"prompt": [1, 2, 3]},
            "prompt",
            "prompt must be a string or a list of strings (token ids are not supported)",
        ),
        ({"temperature": "hot"}, "temperature", "temperature: Input should be a valid number"),
        ({"n": 1.5}, "n", "n: Input should be a valid integer"),
        ({"colour": "red"}, "colour", "Unrecognized request argument supplied: colour"),
        ({"model": None}, "model", "model: Input should be a valid string"),
        (
            {"model": "gpt-4"},
            "model",
            "The model `gpt-4` does not exist; this server serves `script-model`",
        ),
        (
            {"prompt": "word " * 30},
            None,
            "the prompt is longer than the model's context window",
        ),
    ],
)
def test_bad_requests_get_openai_style_400s(
    served: tuple[str, ScriptBackend], change: dict[str, Any], param: str | None, message: str
) -> None:
    body = {"model": "script-model", "prompt": "a", **change}
    answer = httpx.post(f"{served[0]}/completions", json=body)
    assert answer.status_code == 400
    code = "model_not_found" if param == "model" and "gpt-4" in message else None
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    assert answer.json() == {"error": error}


def test_the_openai_client_raises_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as raised:
        client.completions.create(model="script-model", prompt="a", temperature=-1)
    assert raised.value.status_code == 400
    assert raised.value.body == {  # the client unwraps "error"
        "message": "temperature must be 0 or more, got -1.0",
        "type": "invalid_request_error",
        "param": "temperature",
        "code": None,
    }
    with pytest.raises(openai.BadRequestError, match="does not exist"):
        client.completions.create(model="nope", prompt="a")


def test_missing_fields_and_broken_json(served: tuple[str, ScriptBackend]) -> None:
    answer = httpx.post(f"{served[0]}/completions", json={"model": "script-model"})
    assert (answer.status_code, answer.json()["error"]["message"]) == (
        400,
        "Missing required argument: prompt",
    )
    answer = httpx.post(f"{served[0]}/completions", content=b"{not json")
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("The request body is not valid JSON")


def test_unknown_paths_answer_in_the_same_shape(served: tuple[str, ScriptBackend]) -> None:
    answer = httpx.get(f"{served[0]}/chat/completions")
    assert answer.status_code in (404, 405)
    assert set(answer.json()["error"]) == {"message", "type", "param", "code"}


class BrokenBackend(ScriptBackend):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def generate(
        self, requests: Sequence[SampleRequest], params: SamplingParams
    ) -> Iterator[tuple[SampleRequest, Completion]]:
        raise self.error


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (ExecutionError("the model ran out of memory"), "the model ran out of memory"),
        (RuntimeError("secret internals"), "internal error: RuntimeError"),
    ],
)
def test_backend_failures_are_500s_in_the_same_shape(error: Exception, message: str) -> None:
    url, stop = start_in_thread(BrokenBackend(error))
    try:
        answer = httpx.post(f"{url}/completions", json={"model": "script-model", "prompt": "a"})
    finally:
        stop()
    assert answer.status_code == 500
    assert answer.json() == {
        "error": {"message": message, "type": "server_error", "param": None, "code": None}
    }


def test_a_busy_port_is_one_clear_error(served: tuple[str, ScriptBackend]) -> None:
    port = int(served[0].rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(InputError, match=rf"^cannot listen on 127.0.0.1:{port}: "):
        start_in_thread(ScriptBackend(), port=port)


# ---- over the real LocalBackend ------------------------------------------------------------


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    tiny_model = pytest.importorskip("tiny_model", reason="tests/tiny_model.py is not there")
    local_module = pytest.importorskip("passk.generation.local")
    path = tiny_model.make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")
    backend = local_module.LocalBackend(path, device="cpu", batch_size=8)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def local_url(local: Any) -> Iterator[str]:
    url, stop = start_in_thread(local)
    yield url
    stop()


# Stops the random tiny model does write, so that samples are cut (a straddling token included).
STOPS = ("\n", "on", "am")
PROMPTS = ['def add(a, b):\n    """Add two numbers."""\n', "def is_even(n):\n", "import math\n"]


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_http_samples_reproduce_local_samples_and_their_logprobs(
    local: Any, local_url: str, temperature: float
) -> None:
    params = SamplingParams(temperature=temperature, top_p=0.95, max_tokens=24, stop=STOPS)
    requests = [
        SampleRequest(f"T/{p}", i, prompt, sample_seed(3, f"T/{p}", i))
        for p, prompt in enumerate(PROMPTS)
        for i in range(3)
    ]
    direct = dict(local.generate(requests, params))
    remote = OpenAIBackend(local_url, timeout_s=60, max_retries=0)
    try:
        assert remote.model_id == local.model_id
        over_http = dict(remote.generate(requests, params))
    finally:
        remote.close()
    assert over_http.keys() == direct.keys()
    for request, completion in direct.items():
        got = over_http[request]
        assert (got.text, got.finish_reason) == (completion.text, completion.finish_reason)
        assert got.num_tokens == completion.num_tokens
        # Batched and one-at-a-time forward passes round differently.
        assert got.sum_logp == pytest.approx(completion.sum_logp, abs=1e-4)
    assert {c.finish_reason for c in direct.values()} == {"stop", "length"}
    if temperature > 0:  # different seeds draw different samples: the seeds really are used
        assert len({direct[r].text for r in requests if r.prompt == PROMPTS[1]}) > 1


def test_a_prompt_too_long_for_the_local_model_is_a_400(local_url: str) -> None:
    client = openai.OpenAI(base_url=local_url, api_key="x", max_retries=0)
    model = client.models.list().data[0].id
    with pytest.raises(openai.BadRequestError, match="context window of 512 tokens"):
        client.completions.create(model=model, prompt="x = 1\n" * 400, max_tokens=16)
