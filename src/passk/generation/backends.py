"""Which backend a MODEL argument names: a local directory, `openai:URL` or `vllm:PATH`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from passk.errors import InputError
from passk.generation.types import Backend


def open_backend(
    model: str, *, model_name: str | None = None, batch_size: int = 32, token_healing: bool = True
) -> Backend:
    """The backend for MODEL.

    `openai:http://127.0.0.1:8000/v1` is any OpenAI-compatible completions server (vLLM,
    llama.cpp, TGI, Ollama, passk serve); `vllm:PATH` is vLLM's offline engine where vLLM is
    installed; anything else is a local Hugging Face model directory.
    """
    if model.startswith("openai:"):
        from passk.generation.openai_backend import OpenAIBackend

        url = model.removeprefix("openai:")
        if not url.startswith(("http://", "https://")):
            raise InputError(f"openai:URL needs an http(s) URL, got {url!r}")
        return OpenAIBackend(url, model_name=model_name)
    if model.startswith("vllm:"):
        if importlib.util.find_spec("vllm") is None:
            raise InputError("vllm: models need vLLM, which is not installed (pip install vllm)")
        from passk.generation.vllm_backend import VLLMBackend

        return VLLMBackend(model.removeprefix("vllm:"))
    from passk.generation.local import LocalBackend

    return LocalBackend(Path(model), batch_size=batch_size, token_healing=token_healing)
