"""What generation passes around: sampling settings, one requested sample, one completion, and
the interface every model backend implements (Chen et al. 2021, section 2.3 and 3.3)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from passk.errors import InputError


@dataclass(frozen=True)
class SamplingParams:
    """How to sample. temperature 0 is greedy decoding; top_k 0 means no top-k cut."""

    temperature: float = 0.8
    top_p: float = 0.95  # the paper's nucleus, everywhere
    top_k: int = 0
    max_tokens: int = 300
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (math.isfinite(self.temperature) and self.temperature >= 0):
            raise InputError(f"--temperature must be 0 or more, got {self.temperature}")
        if not (0 < self.top_p <= 1):
            raise InputError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.top_k < 0:
            raise InputError(f"--top-k must be 0 (off) or more, got {self.top_k}")
        if self.max_tokens < 1:
            raise InputError(f"--max-tokens must be at least 1, got {self.max_tokens}")

    @property
    def greedy(self) -> bool:
        return self.temperature == 0


@dataclass(frozen=True)
class SampleRequest:
    """One sample to draw: which (task_id, completion_id) it is, its prompt, and its own seed,
    so that the same sample comes out however requests are batched, split or resumed."""

    task_id: str
    completion_id: int
    prompt: str
    seed: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.task_id, self.completion_id)


def sample_seed(seed: int, task_id: str, completion_id: int) -> int:
    """A 63-bit seed for one sample, from the run's seed and the sample's identity.

    >>> sample_seed(0, "HumanEval/0", 0) == sample_seed(0, "HumanEval/0", 0)
    True
    >>> sample_seed(0, "HumanEval/0", 0) != sample_seed(0, "HumanEval/0", 1)
    True
    """
    digest = hashlib.sha256(f"{seed}\0{task_id}\0{completion_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class Completion:
    """One sampled completion, cut at its first stop sequence.

    `num_tokens`, `sum_logp` and `mean_logp` cover the tokens of the kept text: every generated
    token that starts before the cut (a token straddling the cut counts; tokens after it do
    not). Log-probabilities are the model's own (temperature 1, no top-p/top-k), as the paper's
    ranking by mean log-probability uses them; None where a backend cannot give them.
    """

    text: str
    num_tokens: int
    sum_logp: float | None
    mean_logp: float | None
    finish_reason: str  # "stop" (a stop sequence or the end-of-text token) or "length"
    # Per kept token, where the backend has them (the local sampler does): the token's text,
    # its log-probability, and its id. `passk serve` returns them as OpenAI-style logprobs.
    tokens: tuple[str, ...] | None = None
    token_logprobs: tuple[float, ...] | None = None
    token_ids: tuple[int, ...] | None = None


class Backend(Protocol):
    """A model that can draw samples. Implementations: local HF directory, OpenAI-compatible
    HTTP server, vLLM's offline engine."""

    model_id: str

    def generate(
        self, requests: Sequence[SampleRequest], params: SamplingParams
    ) -> Iterator[tuple[SampleRequest, Completion]]:
        """Yield every request with its completion, in any order, as each one finishes."""
        ...

    def close(self) -> None: ...


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """The text up to the first stop sequence, and whether one was found.

    >>> cut_at_stop("    return 1\\ndef g():", ["\\ndef", "\\nclass"])
    ('    return 1', True)
    >>> cut_at_stop("    return 1", ["\\ndef"])
    ('    return 1', False)
    """
    cut = min((i for s in stop if s and (i := text.find(s)) >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


@dataclass(frozen=True)
class GenerationOptions:
    """How a run samples: n per problem with `params`, the run's seed, which tasks (None: all),
    and how the backend is driven (the model a server should use, rows a local batch decodes,
    token healing). `passk generate`, `run` and `sweep` register these options on their parsers
    in one place (`passk.cli.options`) and pass them on whole."""

    params: SamplingParams = field(default_factory=SamplingParams)
    n: int = 1
    seed: int = 0
    tasks: tuple[str, ...] | None = None
    model_name: str | None = None
    batch_size: int = 32
    token_healing: bool = True

    def __post_init__(self) -> None:
        if self.n < 1:
            raise InputError(f"--n must be at least 1, got {self.n}")
        if self.batch_size < 1:
            raise InputError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.tasks is not None and not self.tasks:
            raise InputError("--tasks needs at least one task id")
