"""Named model sizes: Llama-style decoder-only transformers as Hugging Face configs.

Each preset is a `LlamaConfig` (RoPE, RMSNorm, SwiGLU, no biases, tied input and output
embeddings: at these sizes the embedding matrix is a large share of all weights, and tying
halves it). Sizes follow the usual small-model habit of deep and thin (Chen et al. 2021 train
GPT-3-shaped models from 12M to 12B; the recipe notes for tiny models favour depth at a fixed
budget). Parameter counts separate embeddings from the rest because scaling laws
(Kaplan et al. 2020; Chen et al. 2021, figure 4) are stated in non-embedding parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from passk.errors import InputError


@dataclass(frozen=True)
class Preset:
    name: str
    layers: int
    width: int
    heads: int
    ffn: int
    context: int

    def non_embedding_parameters(self) -> int:
        """Weights outside the token embedding: attention, MLP and norms of every layer."""
        attention = 4 * self.width * self.width
        mlp = 3 * self.width * self.ffn
        norms = 2 * self.width
        return self.layers * (attention + mlp + norms) + self.width  # + the final norm

    def embedding_parameters(self, vocab_size: int) -> int:
        return vocab_size * self.width  # tied: the output layer reuses it

    def describe(self, vocab_size: int | None = None) -> dict[str, Any]:
        row: dict[str, Any] = asdict(self)
        row["non_embedding_parameters"] = self.non_embedding_parameters()
        if vocab_size is not None:
            row["parameters"] = self.non_embedding_parameters() + self.embedding_parameters(
                vocab_size
            )
        return row


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("pico", layers=2, width=64, heads=2, ffn=192, context=256),
        Preset("nano", layers=4, width=128, heads=4, ffn=352, context=256),
        Preset("micro", layers=6, width=256, heads=4, ffn=704, context=512),
        Preset("tiny", layers=12, width=384, heads=6, ffn=1024, context=1024),
        Preset("small", layers=12, width=512, heads=8, ffn=1408, context=1024),
        Preset("base", layers=12, width=768, heads=12, ffn=2048, context=1024),
        Preset("medium", layers=24, width=1024, heads=16, ffn=2816, context=1024),
    )
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown preset {name!r}; available: {', '.join(PRESETS)}") from None


def llama_config(
    preset: Preset,
    vocab_size: int,
    *,
    bos_token_id: int | None,
    eos_token_id: int | None,
    pad_token_id: int | None,
    context: int | None = None,
) -> Any:
    """The `transformers.LlamaConfig` of `preset` for a tokenizer of `vocab_size` ids."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=preset.width,
        intermediate_size=preset.ffn,
        num_hidden_layers=preset.layers,
        num_attention_heads=preset.heads,
        num_key_value_heads=preset.heads,
        max_position_embeddings=context or preset.context,
        rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=True,
        initializer_range=0.02,
        attention_bias=False,
        mlp_bias=False,
        bos_token_id=bos_token_id,
        eos_token_id=eos_token_id,
        pad_token_id=pad_token_id,
    )


def count_parameters(model: Any) -> dict[str, int]:
    """Total and non-embedding parameters of a built model (tied weights counted once)."""
    seen: set[int] = set()
    total = 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            total += p.numel()
    embedding = model.get_input_embeddings().weight.numel()
    return {"parameters": total, "non_embedding_parameters": total - embedding}
