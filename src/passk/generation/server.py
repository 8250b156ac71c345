"""`passk serve`: an OpenAI-compatible server over any passk Backend, so that tools speaking
OpenAI's legacy completions API (the paper's own sampling interface, Chen et al. 2021, section
3.3) or its chat API can sample a local model.

Endpoints: `GET /v1/models`, `POST /v1/completions` (no streaming, no echo) and
`POST /v1/chat/completions` (no streaming, no tools). The backend runs in one worker thread,
so concurrent requests are served one after the other.

Chat. The messages become one prompt by the tokenizer's own chat template when it has one
(`apply_chat_template`, with the generation prompt; a leading BOS the template writes is
dropped when the tokenizer adds its own), else by the plain template below; sampling stops at
the end of the assistant's turn (the template's text after a message, or the plain template's
next heading), as well as at the request's stops. A final assistant message with
`continue_final_message: true` (vLLM's extension) is continued rather than answered, and the
answer holds only the new text. The plain template writes each message as

    ### System|User|Assistant
    <content>
    <blank line>

and then `### Assistant` and a newline for the answer.

Seeds. With `seed`, choice `i` of prompt `p` samples with `choice_seed(seed, p, i)`: the seed
itself for the first choice of the first prompt, and `sample_seed(seed, str(p), i)` for the
others. A client that sends one sample's own seed with `n=1` (as `OpenAIBackend` does) thus gets
exactly the sample a local run with that seed draws. Without `seed`, every choice gets a fresh
random seed.

Log-probabilities. Where a backend's completions carry `tokens` and `token_logprobs` (the
local sampler's do), the response's `logprobs` lists them, with `text_offset` counted from the
start of the prompt as OpenAI does; otherwise `logprobs` is null. `top_logprobs` is always
null: backends give no alternatives. A backend's optional `count_tokens(text)` gives
`usage.prompt_tokens` (0 without it). An `InputError` from `generate` (a prompt too long for
the model, say) becomes a 400 answer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import secrets
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from passk.errors import InputError, PasskError
from passk.generation.types import (
    Backend,
    Completion,
    SampleRequest,
    SamplingParams,
    sample_seed,
)

try:
    import uvicorn
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
    from pydantic import BaseModel, ConfigDict, ValidationError
    from starlette.exceptions import HTTPException
except ImportError as e:  # pragma: no cover - depends on the installation
    raise PasskError("passk serve needs the serve extra: pip install 'passk[serve]'") from e

_MAX_SEED = 2**63 - 1  # sample_seed's range; torch and vLLM take 64-bit seeds


class APIError(Exception):
    """An error answered in OpenAI's shape: {"error": {"message", "type", "param", "code"}}."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int = 400,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code
        self.status = status
        self.kind = kind

    def response(self) -> JSONResponse:
        error = {"message": self.message, "type": self.kind, "param": self.param}
        return JSONResponse({"error": {**error, "code": self.code}}, status_code=self.status)


class CompletionBody(BaseModel):
    """The request fields of OpenAI's completions API; unsupported ones only at defaults."""

    # Strict: "0.5" is not a temperature. Unknown fields are refused, as OpenAI does.
    model_config = ConfigDict(extra="forbid", strict=True)

    model: str
    prompt: str | list[str]
    n: int | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None  # an extension, as in vLLM; 0 or -1 is no cut
    stop: str | list[str] | None = None
    logprobs: int | None = None
    seed: int | None = None
    echo: bool | None = None
    stream: bool | None = None
    best_of: int | None = None
    suffix: str | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None


class ChatMessageBody(BaseModel):
    """One message of a chat request: text content, or a list of text parts."""

    model_config = ConfigDict(extra="forbid", strict=True)

    role: str
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None


class ChatBody(BaseModel):
    """The request fields of OpenAI's chat API (and vLLM's prefill switches) that passk serves;
    unsupported ones only at defaults."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: str
    messages: list[ChatMessageBody]
    n: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: str | list[str] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = None
    seed: int | None = None
    stream: bool | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    user: str | None = None
    continue_final_message: bool | None = None
    add_generation_prompt: bool | None = None


CHAT_ROLES = ("system", "developer", "user", "assistant")
PLAIN_STOPS = ("\n### User", "\n### System")


@dataclass(frozen=True)
class Job:
    """One validated completions request: what the model thread must draw."""

    prompts: list[str]
    n: int
    params: SamplingParams
    seed: int | None
    logprobs: bool


def create_app(backend: Backend) -> FastAPI:
    """The ASGI app serving `backend`; the caller keeps ownership of the backend."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One thread owns the model: requests queue for it instead of racing on it.
        app.state.model_thread = ThreadPoolExecutor(1, thread_name_prefix="passk-model")
        try:
            yield
        finally:
            # Queued requests are dropped; the one running finishes (torch cannot be interrupted).
            app.state.model_thread.shutdown(wait=True, cancel_futures=True)

    app = FastAPI(title="passk", lifespan=lifespan)
    app.add_exception_handler(APIError, _api_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        model = {"id": backend.model_id, "object": "model", "created": 0, "owned_by": "passk"}
        return {"object": "list", "data": [model]}

    @app.post("/v1/completions")
    async def completions(request: Request) -> dict[str, Any]:
        job = read_job(await request.body(), backend.model_id)
        loop = asyncio.get_running_loop()
        thread = request.app.state.model_thread
        return await loop.run_in_executor(thread, respond, backend, job)

    @app.post("/v1/chat/completions")
    async def chat_completions(request: Request) -> dict[str, Any]:
        job = read_chat_job(await request.body(), backend)
        loop = asyncio.get_running_loop()
        thread = request.app.state.model_thread
        return await loop.run_in_executor(thread, respond_chat, backend, job)

    return app


def read_job(raw: bytes, model_id: str) -> Job:
    """Validate a completions request body; APIError (400) names the first bad field."""
    try:
        body = CompletionBody.model_validate_json(raw)
    except ValidationError as e:
        raise _validation_error(e) from e
    _refuse_unsupported(body)
    if body.model != model_id:
        message = f"The model `{body.model}` does not exist; this server serves `{model_id}`"
        raise APIError(message, param="model", code="model_not_found")
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    if not prompts:
        raise APIError("prompt must not be an empty list", param="prompt")
    n = 1 if body.n is None else body.n
    _check(n >= 1, f"n must be at least 1, got {n}", "n")
    seed = body.seed
    _check(
        seed is None or 0 <= seed <= _MAX_SEED, f"seed must be in [0, 2**63), got {seed}", "seed"
    )
    _check(body.logprobs is None or body.logprobs >= 0, "logprobs must be 0 or more", "logprobs")
    return Job(prompts, n, _sampling(body), seed, body.logprobs is not None)


def read_chat_job(raw: bytes, backend: Backend) -> Job:
    """Validate a chat request body and render its messages into one prompt."""
    try:
        body = ChatBody.model_validate_json(raw)
    except ValidationError as e:
        raise _validation_error(e) from e
    _refuse_unsupported_chat(body)
    if body.model != backend.model_id:
        message = (
            f"The model `{body.model}` does not exist; this server serves `{backend.model_id}`"
        )
        raise APIError(message, param="model", code="model_not_found")
    messages = _chat_messages(body)
    continue_final = bool(body.continue_final_message)
    _check(
        not continue_final or messages[-1]["role"] == "assistant",
        "continue_final_message needs a final assistant message",
        "continue_final_message",
    )
    prompt, stops = render_chat(backend, messages, continue_final=continue_final)
    n = 1 if body.n is None else body.n
    _check(n >= 1, f"n must be at least 1, got {n}", "n")
    seed = body.seed
    _check(
        seed is None or 0 <= seed <= _MAX_SEED, f"seed must be in [0, 2**63), got {seed}", "seed"
    )
    params = _sampling(body)
    params = dataclasses.replace(params, stop=(*params.stop, *stops))
    return Job([prompt], n, params, seed, bool(body.logprobs))


def _chat_messages(body: ChatBody) -> list[dict[str, str]]:
    _check(bool(body.messages), "messages must not be empty", "messages")
    messages = []
    for m in body.messages:
        _check(m.role in CHAT_ROLES, f"unsupported message role {m.role!r}", "messages")
        if isinstance(m.content, list):
            parts = [p.get("text") for p in m.content if p.get("type") == "text"]
            _check(
                len(parts) == len(m.content), "only text content parts are supported", "messages"
            )
            content = "".join(str(p) for p in parts)
        else:
            content = m.content or ""
        messages.append({"role": "system" if m.role == "developer" else m.role, "content": content})
    return messages


def _refuse_unsupported_chat(body: ChatBody) -> None:
    _check(not body.stream, "stream is not supported", "stream")
    _check(not body.logit_bias, "logit_bias is not supported", "logit_bias")
    for name in ("presence_penalty", "frequency_penalty"):
        _check(not getattr(body, name), f"{name} is not supported", name)
    _check(
        not body.top_logprobs,
        "top_logprobs is not supported (the backend gives none)",
        "top_logprobs",
    )
    both = body.max_tokens is not None and body.max_completion_tokens is not None
    _check(
        not both or body.max_tokens == body.max_completion_tokens,
        "max_tokens and max_completion_tokens disagree",
        "max_completion_tokens",
    )


def render_chat(
    backend: Backend, messages: list[dict[str, str]], *, continue_final: bool = False
) -> tuple[str, tuple[str, ...]]:
    """The prompt for a conversation, and the stop sequences that end the assistant's turn:
    by the tokenizer's chat template where it has one, else by the plain template."""
    tokenizer = getattr(backend, "tokenizer", None)
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        return plain_chat_prompt(messages, continue_final=continue_final), PLAIN_STOPS
    try:
        prompt = tokenizer.apply_chat_template(
            messages,
            tokenize=False,
            add_generation_prompt=not continue_final,
            continue_final_message=continue_final,
        )
    except Exception as e:  # the template's own checks (roles must alternate, ...) and errors
        raise APIError(f"the chat template cannot render these messages: {e}") from e
    return _without_bos(tokenizer, str(prompt)), _end_of_turn(tokenizer)


def _end_of_turn(tokenizer: Any) -> tuple[str, ...]:
    """The text a chat template writes after an assistant message, as a stop sequence."""
    conversation = [{"role": "user", "content": "?"}, {"role": "assistant", "content": _MARK}]
    try:
        probe = str(tokenizer.apply_chat_template(conversation, tokenize=False))
    except Exception:  # a template that wants other conversations: no stop of its own
        return ()
    end = probe.split(_MARK, 1)[-1].strip() if _MARK in probe else ""
    return (end,) if end else ()


_MARK = "\u2063passk-answer\u2063"  # a text no template writes itself


def _without_bos(tokenizer: Any, prompt: str) -> str:
    """The prompt without a leading BOS text when the tokenizer adds a BOS token itself."""
    bos = getattr(tokenizer, "bos_token", None)
    if not isinstance(bos, str) or not bos or not prompt.startswith(bos):
        return prompt
    adds_bos = tokenizer("").input_ids[:1] == [tokenizer.bos_token_id]
    return prompt.removeprefix(bos) if adds_bos else prompt


def plain_chat_prompt(messages: list[dict[str, str]], *, continue_final: bool = False) -> str:
    """The plain template of the module docstring.

    >>> print(plain_chat_prompt([{"role": "user", "content": "Add."}]))
    ### User
    Add.
    <BLANKLINE>
    ### Assistant
    <BLANKLINE>
    """
    turns = [f"### {m['role'].title()}\n{m['content']}\n\n" for m in messages]
    if continue_final:
        return "".join(turns[:-1]) + f"### Assistant\n{messages[-1]['content']}"
    return "".join(turns) + "### Assistant\n"


def _sampling(body: CompletionBody | ChatBody) -> SamplingParams:
    # OpenAI's defaults: temperature 1, top_p 1, 16 tokens.
    temperature = 1.0 if body.temperature is None else body.temperature
    top_p = 1.0 if body.top_p is None else body.top_p
    top_k = 0 if body.top_k is None else body.top_k
    max_tokens = body.max_tokens
    if isinstance(body, ChatBody) and body.max_completion_tokens is not None:
        max_tokens = body.max_completion_tokens
    max_tokens = 16 if max_tokens is None else max_tokens
    ok = math.isfinite(temperature) and temperature >= 0
    _check(ok, f"temperature must be 0 or more, got {temperature}", "temperature")
    _check(0 < top_p <= 1, f"top_p must be in (0, 1], got {top_p}", "top_p")
    _check(top_k >= -1, f"top_k must be -1 or 0 (off) or more, got {top_k}", "top_k")
    _check(max_tokens >= 1, f"max_tokens must be at least 1, got {max_tokens}", "max_tokens")
    stop = [body.stop] if isinstance(body.stop, str) else body.stop or []
    return SamplingParams(
        temperature=temperature,
        top_p=top_p,
        top_k=max(top_k, 0),
        max_tokens=max_tokens,
        stop=tuple(s for s in stop if s),
    )


def _refuse_unsupported(body: CompletionBody) -> None:
    """Options this server cannot honour are refused rather than silently ignored."""
    _check(not body.echo, "echo is not supported", "echo")
    _check(not body.stream, "stream is not supported", "stream")
    _check(body.suffix is None, "suffix is not supported", "suffix")
    _check(not body.logit_bias, "logit_bias is not supported", "logit_bias")
    for name in ("presence_penalty", "frequency_penalty"):
        _check(not getattr(body, name), f"{name} is not supported", name)
    n = 1 if body.n is None else body.n
    _check(body.best_of in (None, n), "best_of other than n is not supported", "best_of")


def _check(ok: bool, message: str, param: str) -> None:
    if not ok:
        raise APIError(message, param=param)


def _validation_error(error: ValidationError) -> APIError:
    first = error.errors()[0]
    loc = first["loc"]
    param = str(loc[0]) if loc else None
    if first["type"] == "json_invalid" or not loc:
        return APIError(f"The request body is not valid JSON: {first['msg']}")
    if first["type"] == "extra_forbidden":
        return APIError(f"Unrecognized request argument supplied: {param}", param=param)
    if first["type"] == "missing":
        return APIError(f"Missing required argument: {param}", param=param)
    if param == "prompt":
        message = "prompt must be a string or a list of strings (token ids are not supported)"
        return APIError(message, param=param)
    return APIError(f"{param}: {first['msg']}", param=param)


def choice_seed(seed: int | None, prompt_index: int, choice_index: int) -> int:
    """The seed of one choice; see the module docstring.

    >>> choice_seed(42, 0, 0)
    42
    >>> choice_seed(42, 0, 1) == sample_seed(42, "0", 1)
    True
    """
    if seed is None:
        return secrets.randbits(63)
    if prompt_index == 0 and choice_index == 0:
        return seed
    return sample_seed(seed, str(prompt_index), choice_index)


def respond(backend: Backend, job: Job) -> dict[str, Any]:
    """Draw a completions job's samples (in the model thread) and build OpenAI's response."""
    return _respond(backend, job, chat=False)


def respond_chat(backend: Backend, job: Job) -> dict[str, Any]:
    """Draw a chat job's samples (in the model thread) and build OpenAI's chat response."""
    return _respond(backend, job, chat=True)


def _respond(backend: Backend, job: Job, *, chat: bool) -> dict[str, Any]:
    requests = [
        SampleRequest(f"prompt[{p}]", i, prompt, choice_seed(job.seed, p, i))
        for p, prompt in enumerate(job.prompts)
        for i in range(job.n)
    ]
    completions = _draw(backend, requests, job.params)
    make_choice = _chat_choice if chat else _choice
    choices = [
        make_choice(index, r.prompt, completions[r.key], job.logprobs)
        for index, r in enumerate(requests)
    ]
    count = getattr(backend, "count_tokens", None)
    prompt_tokens = sum(count(p) for p in job.prompts) if callable(count) else 0
    completion_tokens = sum(completions[r.key].num_tokens for r in requests)
    return {
        "id": f"{'chatcmpl' if chat else 'cmpl'}-{uuid.uuid4().hex}",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": backend.model_id,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _chat_choice(index: int, prompt: str, completion: Completion, logprobs: bool) -> dict[str, Any]:
    return {
        "index": index,
        "message": {"role": "assistant", "content": completion.text},
        "finish_reason": completion.finish_reason,
        "logprobs": chat_logprobs(completion) if logprobs else None,
    }


def chat_logprobs(completion: Completion) -> dict[str, Any] | None:
    """The chat API's per-token `logprobs` object, or None without token data."""
    if completion.tokens is None or completion.token_logprobs is None:
        return None
    content = [
        {"token": t, "logprob": lp, "bytes": list(t.encode()), "top_logprobs": []}
        for t, lp in zip(completion.tokens, completion.token_logprobs, strict=True)
    ]
    return {"content": content}


def _draw(
    backend: Backend, requests: list[SampleRequest], params: SamplingParams
) -> dict[tuple[str, int], Completion]:
    try:
        return {r.key: c for r, c in backend.generate(requests, params)}
    except InputError as e:  # the request is at fault (a prompt too long for the model, say)
        raise APIError(str(e)) from e
    except PasskError as e:
        raise APIError(str(e), status=500, kind="server_error") from e


def _choice(index: int, prompt: str, completion: Completion, logprobs: bool) -> dict[str, Any]:
    return {
        "index": index,
        "text": completion.text,
        "finish_reason": completion.finish_reason,
        "logprobs": token_logprobs(prompt, completion) if logprobs else None,
    }


def token_logprobs(prompt: str, completion: Completion) -> dict[str, Any] | None:
    """OpenAI's per-token `logprobs` object, or None when the completion has no token data."""
    if completion.tokens is None or completion.token_logprobs is None:
        return None
    offsets, at = [], len(prompt)  # OpenAI counts from the start of the prompt
    for token in completion.tokens:
        offsets.append(at)
        at += len(token)
    return {
        "tokens": list(completion.tokens),
        "token_logprobs": list(completion.token_logprobs),
        "text_offset": offsets,
        "top_logprobs": None,
    }


async def _api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, APIError)
    return error.response()


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    # Unknown paths and methods, in the same shape as every other error.
    assert isinstance(error, HTTPException)
    kind = "invalid_request_error" if error.status_code < 500 else "server_error"
    return APIError(str(error.detail), status=error.status_code, kind=kind).response()


async def _internal_error(request: Request, error: Exception) -> JSONResponse:
    # The traceback goes to the server's log (Starlette re-raises after answering), not out.
    message = f"internal error: {type(error).__name__}"
    return APIError(message, status=500, kind="server_error").response()


def serve(backend: Backend, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve `backend` at http://host:port/v1 until interrupted."""
    sock = _bind(host, port)
    try:
        config = uvicorn.Config(create_app(backend), log_level="info")
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()


def start_in_thread(backend: Backend, port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve `backend` on 127.0.0.1 from a background thread; return the base URL (ending in
    /v1) and a function that stops the server. Port 0 picks a free port."""
    sock = _bind("127.0.0.1", port)
    config = uvicorn.Config(create_app(backend), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="passk-serve", daemon=True
    )
    thread.start()
    while not server.started and thread.is_alive():
        time.sleep(0.01)
    if not server.started:
        sock.close()
        raise PasskError(f"the server on 127.0.0.1:{port} did not start")

    def stop() -> None:
        server.should_exit = True
        thread.join()
        sock.close()

    return f"http://127.0.0.1:{sock.getsockname()[1]}/v1", stop


def _bind(host: str, port: int) -> socket.socket:
    """A socket bound to host:port, so that a busy port is one clear error, not a log line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise InputError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    return sock
