"""vLLM's offline engine as a backend, for users who have vLLM (an optional extra).

vLLM is not installed in passk's own environment (it needs a GPU build); this backend is
exercised where it is, and `open_backend` refuses `vllm:` models with a clear message elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from passk.generation.types import Completion, SampleRequest, SamplingParams, cut_at_stop


class VLLMBackend:
    """Samples with `vllm.LLM.generate`, one SamplingParams per request (for its own seed)."""

    def __init__(self, path: str) -> None:
        import vllm

        self._vllm = vllm
        self._llm = vllm.LLM(model=path)
        self.model_id = path

    def generate(
        self, requests: Sequence[SampleRequest], params: SamplingParams
    ) -> Iterator[tuple[SampleRequest, Completion]]:
        settings = [self._settings(r, params) for r in requests]
        outputs = self._llm.generate([r.prompt for r in requests], settings)
        for request, output in zip(requests, outputs, strict=True):
            yield request, _completion(output.outputs[0], params)

    def _settings(self, request: SampleRequest, params: SamplingParams) -> Any:
        return self._vllm.SamplingParams(
            n=1,
            temperature=params.temperature,
            top_p=params.top_p,
            top_k=params.top_k or -1,
            max_tokens=params.max_tokens,
            stop=list(params.stop),
            seed=request.seed,
            logprobs=0,
        )

    def close(self) -> None:
        del self._llm


def _completion(out: Any, params: SamplingParams) -> Completion:
    text, cut = cut_at_stop(out.text, params.stop)
    logps = [next(iter(d.values())).logprob for d in (out.logprobs or [])]
    kept = logps[: len(out.token_ids)]
    total = sum(kept) if kept else None
    finish = "stop" if cut or out.finish_reason == "stop" else "length"
    mean = total / len(kept) if total is not None and kept else None
    return Completion(text, len(kept), total, mean, finish)
