"""A tiny Hugging Face causal LM built on the spot, for tests that need a real local model.

`make_tiny_model(dir)` trains a byte-level BPE tokenizer on HumanEval's prompts and canonical
solutions (Chen et al. 2021, section 2.2) and saves it beside a randomly initialised two-layer
Llama, as a Hugging Face model directory (config.json, model.safetensors, tokenizer.json).
No downloads; about a second.
"""

from __future__ import annotations

from pathlib import Path

from passk.benchmarks import get_benchmark

BOS, EOS, PAD = "<s>", "<|endoftext|>", "<pad>"


def python_lines() -> list[str]:
    """HumanEval's prompts and solutions, the kind of text the tokenizer will see in tests."""
    problems = get_benchmark("humaneval").problems.values()
    return [p.prompt + p.canonical_solution for p in problems]


def make_tokenizer(vocab: int):  # -> transformers.PreTrainedTokenizerFast
    """A byte-level BPE tokenizer: every string round-trips, as code models' tokenizers do."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab,
        special_tokens=[EOS, BOS, PAD],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator(python_lines(), trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=bpe,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        clean_up_tokenization_spaces=False,
    )


# A ChatML-style chat template whose turns end with the end-of-text token.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|endoftext|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def make_tiny_model(
    dir: Path, *, seed: int = 0, vocab: int = 1024, chat_template: str | None = None
) -> Path:
    """Build and save a tiny random Llama-style model and its tokenizer into `dir`; return `dir`.
    `chat_template` (e.g. CHAT_TEMPLATE) gives the tokenizer a chat template."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = make_tokenizer(vocab)
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        # Wider than the usual 0.02, so that logits are spread out: greedy choices then do not
        # hinge on float rounding, and tests comparing batched with unbatched runs are stable.
        initializer_range=0.2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state alone
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config).eval()
    dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(dir, safe_serialization=True)
    tokenizer.save_pretrained(dir)
    return dir
