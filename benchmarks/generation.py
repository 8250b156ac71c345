"""Sampling throughput: passk's local sampler against `transformers`' `model.generate`.

Builds a small Llama-style model with random weights (no downloads; `--hidden`, `--layers`) and
a byte-level BPE tokenizer trained on HumanEval's prompts, saves it as a Hugging Face
directory, and in one run measures new tokens per second, three ways, for both:

  batch 1      one HumanEval prompt, one sample
  n=32         32 samples of one prompt (the paper's setting: many samples per problem)
  prompts      a batch of `--prompts` different HumanEval prompts, one sample each

with greedy decoding, no stop sequences and `--max-tokens` new tokens (random weights seldom
end a sample early, so both do the same work), and checks that the greedy texts are equal; and
one case at the paper's settings,

  paper        32 samples of one prompt at temperature 0.8, top-p 0.95, HumanEval's stop
               sequences, up to 300 new tokens (`generate` with `stop_strings`)

where rows end at different lengths: passk drops a row when it stops, `generate` keeps
computing it until every row has stopped. There the figure is kept tokens per second (the
tokens of the completions up to their stop sequence), the work a user wants done.
Nothing is asserted about timings. Run from the repository root:

    .venv/bin/python benchmarks/generation.py [--hidden 256] [--layers 6] [--max-tokens 128]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tokenizer the tests build, trained the same way

from passk.benchmarks import get_benchmark  # noqa: E402
from passk.generation.local import LocalBackend  # noqa: E402
from passk.generation.types import SampleRequest, SamplingParams, cut_at_stop  # noqa: E402
from tiny_model import make_tokenizer  # noqa: E402


def build_model(directory: Path, hidden: int, layers: int) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = make_tokenizer(4096)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 8 // 3,
        num_hidden_layers=layers,
        num_attention_heads=max(1, hidden // 64),
        num_key_value_heads=max(1, hidden // 64),
        max_position_embeddings=1024,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def passk_texts(
    backend: LocalBackend, prompts: list[str], max_tokens: int
) -> tuple[list[str], int, float]:
    requests = [SampleRequest(f"p{i}", i, p, seed=i) for i, p in enumerate(prompts)]
    params = SamplingParams(temperature=0, max_tokens=max_tokens, stop=())
    start = time.perf_counter()
    results = sorted(backend.sample(requests, params), key=lambda s: s.request.completion_id)
    seconds = time.perf_counter() - start
    tokens = sum(len(s.token_ids) for s in results)
    return [s.completion.text for s in results], tokens, seconds


def hf_texts(
    backend: LocalBackend, prompts: list[str], max_tokens: int
) -> tuple[list[str], int, float]:
    import torch

    tokenizer, model = backend.tokenizer, backend.model
    tokenizer.padding_side = "left"
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            **batch,
            do_sample=False,
            max_new_tokens=max_tokens,
            min_new_tokens=max_tokens,
            pad_token_id=tokenizer.pad_token_id,
        )
    seconds = time.perf_counter() - start
    new = out[:, batch["input_ids"].shape[1] :]
    texts = tokenizer.batch_decode(new, skip_special_tokens=True)
    return texts, int(new.numel()), seconds


def paper_case(backend: LocalBackend, prompt: str, rows: int) -> dict[str, Any]:
    """32 samples at T=0.8, top-p 0.95 with HumanEval's stops: kept tokens per second."""
    import torch

    from passk.benchmarks.humaneval import STOP_SEQUENCES

    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=300, stop=STOP_SEQUENCES)
    requests = [SampleRequest("p", i, prompt, seed=i) for i in range(rows)]
    start = time.perf_counter()
    kept = sum(s.completion.num_tokens for s in backend.sample(requests, params))
    passk_s = time.perf_counter() - start
    tokenizer, model = backend.tokenizer, backend.model
    batch = tokenizer([prompt] * rows, return_tensors="pt")
    torch.manual_seed(0)
    start = time.perf_counter()
    with torch.inference_mode():
        out = model.generate(
            **batch,
            do_sample=True,
            temperature=0.8,
            top_p=0.95,
            max_new_tokens=300,
            stop_strings=list(STOP_SEQUENCES),
            tokenizer=tokenizer,
            pad_token_id=tokenizer.pad_token_id,
        )
    hf_s = time.perf_counter() - start
    texts = tokenizer.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    hf_kept = sum(len(tokenizer(cut_at_stop(t, STOP_SEQUENCES)[0]).input_ids) for t in texts)
    return {
        "case": "paper: n=32, T=0.8, stops",
        "rows": rows,
        "passk_tok_s": kept / passk_s,
        "hf_tok_s": hf_kept / hf_s,
        "equal_texts": "-",
    }


def measure(
    backend: LocalBackend, name: str, prompts: list[str], max_tokens: int
) -> dict[str, Any]:
    passk_out, passk_tokens, passk_s = passk_texts(backend, prompts, max_tokens)
    hf_out, hf_tokens, hf_s = hf_texts(backend, prompts, max_tokens)
    same = sum(a == b for a, b in zip(passk_out, hf_out, strict=True))
    return {
        "case": name,
        "rows": len(prompts),
        "passk_tok_s": passk_tokens / passk_s,
        "hf_tok_s": hf_tokens / hf_s,
        "passk_tokens": passk_tokens,
        "hf_tokens": hf_tokens,
        "equal_texts": f"{same}/{len(prompts)}",
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--prompts", type=int, default=16)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    args = parse_args(argv)
    problems = list(get_benchmark("humaneval").problems.values())
    with tempfile.TemporaryDirectory(prefix="passk-genbench-") as scratch:
        # Token healing off: greedy texts are compared with transformers' generate.
        backend = LocalBackend(
            build_model(Path(scratch) / "model", args.hidden, args.layers),
            batch_size=64,
            token_healing=False,
        )
        params = sum(p.numel() for p in backend.model.parameters())
        print(
            f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, torch "
            f"{torch.__version__}, {torch.get_num_threads()} threads; load {os.getloadavg()[0]:.2f}"
        )
        print(
            f"model: random Llama, {args.layers} layers x {args.hidden}, {params / 1e6:.1f}M "
            f"parameters; greedy, {args.max_tokens} new tokens per row\n"
        )
        cases = [
            ("batch 1", [problems[0].prompt]),
            ("n=32 of one prompt", [problems[0].prompt] * 32),
            (f"{args.prompts} different prompts", [p.prompt for p in problems[: args.prompts]]),
        ]
        rows = [measure(backend, name, prompts, args.max_tokens) for name, prompts in cases]
        rows.append(paper_case(backend, problems[0].prompt, 32))
    print(
        f"{'case':<26} {'rows':>4} {'passk tok/s':>12} {'HF tok/s':>10} {'ratio':>6} {'greedy equal':>13}"
    )
    for r in rows:
        ratio = r["passk_tok_s"] / r["hf_tok_s"]
        print(
            f"{r['case']:<26} {r['rows']:>4} {r['passk_tok_s']:>12.0f} {r['hf_tok_s']:>10.0f} "
            f"{ratio:>5.2f}x {r['equal_texts']:>13}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
