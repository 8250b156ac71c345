"""Which backend a MODEL argument names: a local directory, `openai:URL`, `openai-chat:URL` or
`vllm:PATH`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from passk.errors import InputError
from passk.generation.types import Backend

HTTP_SCHEMES = ("openai:", "openai-chat:")


def open_backend(
    model: str,
    *,
    model_name: str | None = None,
    batch_size: int = 32,
    token_healing: bool = True,
    concurrency: int = 16,
    samples_per_request: int = 1,
) -> Backend:
    """The backend for MODEL.

    `openai:http://127.0.0.1:8000/v1` is any OpenAI-compatible completions server (vLLM,
    llama.cpp, TGI, Ollama, passk serve), `openai-chat:URL` the same servers' chat API (for
    instruction-tuned and reasoning models); either takes several endpoints of one model as
    `URL1,URL2,...`, with `concurrency` requests in flight in all. `vllm:PATH` is vLLM's
    offline engine where vLLM is installed; anything else is a local Hugging Face model
    directory.
    """
    if model.startswith(HTTP_SCHEMES):
        from passk.generation.openai_backend import OpenAIBackend, OpenAIChatBackend

        urls = endpoint_urls(model)
        if model.startswith("openai-chat:"):
            return OpenAIChatBackend(
                urls,
                model_name=model_name,
                concurrency=concurrency,
                samples_per_request=samples_per_request,
            )
        return OpenAIBackend(urls, model_name=model_name, concurrency=concurrency)
    if model.startswith("vllm:"):
        if importlib.util.find_spec("vllm") is None:
            raise InputError("vllm: models need vLLM, which is not installed (pip install vllm)")
        from passk.generation.vllm_backend import VLLMBackend

        return VLLMBackend(model.removeprefix("vllm:"))
    from passk.generation.local import LocalBackend

    return LocalBackend(Path(model), batch_size=batch_size, token_healing=token_healing)


def endpoint_urls(model: str) -> list[str]:
    """The base URLs of `openai:URL1,URL2,...` (or `openai-chat:...`), each checked.

    >>> endpoint_urls("openai-chat:http://a:8000/v1,http://b:8000/v1")
    ['http://a:8000/v1', 'http://b:8000/v1']
    """
    scheme, _, rest = model.partition(":")
    urls = [u.strip() for u in rest.split(",")]
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise InputError(f"{scheme}:URL needs an http(s) URL, got {url!r}")
    if len(set(urls)) < len(urls):
        raise InputError(f"{scheme}:URL1,URL2,... names an endpoint twice")
    return urls
