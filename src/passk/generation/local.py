"""The local backend: samples from a Hugging Face causal-LM directory on this machine.

The directory holds config.json, safetensors weights and tokenizer files, as `save_pretrained`
writes them. Samples are drawn by passk's own sampler (`passk.generation.sampling`), which
shares each prompt's prefill among its samples, as drawing the paper's 100 to 200 samples per
problem calls for (Chen et al. 2021, section 3.3). Nothing here touches the network.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING
from transformers.utils import logging as hf_logging

from passk.errors import InputError
from passk.generation import sampling
from passk.generation.types import Completion, SampleRequest, SamplingParams
from passk.records.modeldir import check_model_dir, context_window, load_pretrained


class LocalBackend:
    """A causal LM loaded from a local directory, in eval mode, on one device."""

    def __init__(
        self,
        path: str | Path,
        *,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        batch_size: int = 32,
        token_healing: bool = True,
    ) -> None:
        if batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {batch_size}")
        self.path = Path(path)
        check_model_dir(self.path)
        self.model_id = self.path.resolve().name
        self.batch_size = batch_size
        self.token_healing = token_healing
        config = load_pretrained(AutoConfig, self.path)
        if type(config) not in MODEL_FOR_CAUSAL_LM_MAPPING:
            raise InputError(
                f"{self.path} holds a {config.model_type!r} model, not a causal language model"
            )
        self.tokenizer = load_pretrained(AutoTokenizer, self.path)
        self.device = _device(device)
        self.model = _load_model(self.path, config, self.device, dtype)
        self.eos_ids = end_of_text_ids(self.model, self.tokenizer)
        self._max_context = context_window(config, self.tokenizer, self.path)

    def max_context(self) -> int:
        """How many tokens (prompt plus completion) the model can attend to."""
        return self._max_context

    def count_tokens(self, text: str) -> int:
        """How many tokens the model's tokenizer makes of `text` (for `passk serve`'s usage)."""
        return len(self.tokenizer(text).input_ids)

    def generate(
        self, requests: Sequence[SampleRequest], params: SamplingParams
    ) -> Iterator[tuple[SampleRequest, Completion]]:
        """Yield every request with its completion as each finishes. Every prompt is checked
        against the context window before anything is generated."""
        samples = self.sample(requests, params)
        return ((s.request, s.completion) for s in samples)

    def sample(
        self,
        requests: Sequence[SampleRequest],
        params: SamplingParams,
        *,
        trace: list[int] | None = None,
    ) -> Iterator[sampling.Sample]:
        """Like `generate`, with each sample's token ids and log-probabilities."""
        groups = sampling.encode_prompts(self.tokenizer, requests, token_healing=self.token_healing)
        sampling.check_context(groups, params.max_tokens, self.max_context())
        return sampling.sample(
            self.model,
            self.tokenizer,
            groups,
            params,
            eos_ids=self.eos_ids,
            batch_size=self.batch_size,
            trace=trace,
        )

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Each continuation's summed token log-probability given its prompt, in order.

        The two are tokenized apart (the prompt as for sampling, the continuation without
        special tokens) and joined. Pairs are sorted by length and run in chunks of
        batch_size, one left-padded forward pass per chunk. A pair longer than the context
        window loses the start of its prompt.
        """
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
        pairs = [self._score_ids(p, c) for p, c in zip(prompts, continuations, strict=True)]
        order = sorted(range(len(pairs)), key=lambda i: -sum(map(len, pairs[i])))
        totals = [0.0] * len(pairs)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            scores = _continuation_logprobs(self.model, [pairs[i] for i in chunk])
            for i, total in zip(chunk, scores, strict=True):
                totals[i] = total
        return totals

    def _score_ids(self, prompt: str, continuation: str) -> tuple[list[int], list[int]]:
        ids = list(self.tokenizer(prompt).input_ids)
        if not ids and self.tokenizer.bos_token_id is not None:
            ids = [self.tokenizer.bos_token_id]
        tail = list(self.tokenizer(continuation, add_special_tokens=False).input_ids)
        room = self.max_context() - len(tail)
        if not ids or room < 1:
            raise InputError(
                f"cannot score a {len(tail)}-token continuation after a {len(ids)}-token prompt "
                f"with a context window of {self.max_context()} tokens"
            )
        return ids[-room:], tail

    def close(self) -> None:
        """Free the model's memory (the accelerator's too)."""
        self.model = None
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()


def _continuation_logprobs(model: Any, pairs: list[tuple[list[int], list[int]]]) -> list[float]:
    """Sum of log P(continuation | prompt) per (prompt ids, continuation ids), in one forward
    pass over the left-padded rows, keeping logits only where continuations are predicted."""
    longest = max(len(tail) for _, tail in pairs)
    if longest == 0:
        return [0.0] * len(pairs)
    with torch.inference_mode():
        ids, mask = sampling._left_pad([p + t for p, t in pairs], model.device)  # [rows, length]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # [rows, length]
        out = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=False,
            logits_to_keep=longest + 1,
        )
        logits = out.logits[:, :-1].float()  # [rows, longest, vocab]: predicts ids[:, -longest:]
        targets = ids[:, -longest:]  # [rows, longest]
        logps = logits.gather(-1, targets[..., None])[..., 0] - logits.logsumexp(-1)
        lengths = torch.tensor([len(t) for _, t in pairs], device=ids.device)  # [rows]
        kept = torch.arange(longest, device=ids.device) >= longest - lengths[:, None]
        totals: list[float] = logps.where(kept, 0.0).double().sum(-1).tolist()
        return totals


def _device(name: str | None) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as e:
        raise InputError(
            f"--device must be a torch device such as cpu or cuda:0, got {name}"
        ) from e


def _load_model(path: Path, config: Any, device: torch.device, dtype: Any) -> Any:
    # float32 on CPUs, where bfloat16 is slow; the checkpoint's own dtype on accelerators.
    if dtype is None:
        dtype = torch.float32 if device.type == "cpu" else "auto"
    elif isinstance(dtype, str) and dtype != "auto":
        dtype = _torch_dtype(dtype)
    with _quiet_loading():
        model = load_pretrained(
            AutoModelForCausalLM, path, config=config, dtype=dtype, use_safetensors=True
        )
    try:
        model = model.to(device)
    except (RuntimeError, AssertionError) as e:  # an unknown or absent device
        raise InputError(f"--device {device}: {str(e).splitlines()[0]}") from e
    return model.eval()


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """No "Loading weights" bar on stderr: passk reports progress itself, and errors as one line."""
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            hf_logging.enable_progress_bar()


def _torch_dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise InputError(f"--dtype must be a torch dtype such as bfloat16 or float32, got {name}")
    return dtype


def end_of_text_ids(model: Any, tokenizer: Any) -> frozenset[int]:
    """The tokens that end a sample: the generation config's, as `model.generate` stops at,
    and the tokenizer's own end-of-text token."""
    configured = getattr(model.generation_config, "eos_token_id", None)
    ids = configured if isinstance(configured, list) else [configured]
    return frozenset(i for i in [*ids, tokenizer.eos_token_id] if i is not None)
