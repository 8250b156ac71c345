"""Training throughput: passk's training step against a bare PyTorch loop, and MFU.

For each preset, builds the model the way `passk train` does (`trainer._pretraining_model`: the
preset's `LlamaConfig` at vocabulary `--vocab`, fp32 weights, seeded) and measures, in one run
on one device, training tokens per second two ways:

  passk      `trainer._step` as `passk train` calls it: windows cut from a memory-mapped token
             array, gradient accumulation, bf16 autocast (or not, per --dtype), cross-entropy in
             fp32, gradient clipping, the learning-rate schedule, AdamW (fused on CUDA) over
             parameter groups with and without weight decay, the loss read back every step.
  bare       the loop anyone would write for the same model: the same micro-batches (already on
             the device), forward, cross-entropy, backward, AdamW step, zero_grad, with the same
             autocast and the same AdamW settings; no clipping, no schedule, no per-step sync.

The ratio, passk's time per step over the bare loop's, is passk's overhead (the issue's
target: at most 1.5x). MFU is
6·N·tokens/s over the device's peak, where N is every parameter of the model, the tied
embedding counted once (as the output layer it is a matmul like any other; attention's own
score FLOPs are left out), and the peak is measured in the same run by a large matmul in the
compute dtype (bf16 and fp32). The token data is random (`--vocab` ids): speed does not depend
on what the tokens say. Nothing is asserted about timings.

Needs only torch, transformers, numpy and passk's training modules, so on a GPU machine
without passk installed, from the repository root:

    PYTHONPATH=src python benchmarks/training.py --device cuda --presets base --steps 10

and here: .venv/bin/python benchmarks/training.py [--presets pico,nano,micro] [--steps 5]
          [--dtype auto|bf16|fp32] [--compile] [--json results.json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # works with or without passk installed

from passk.training import trainer  # noqa: E402
from passk.training.presets import count_parameters, get_preset  # noqa: E402

DEFAULTS = {  # device: presets, steps, micro-batch
    "cpu": ("pico,nano,micro", 5, 4),
    "cuda": ("tiny,small,base", 20, 16),
}


class SyntheticTokenizer:
    """What `_pretraining_model` asks of a tokenizer: its size and the special tokens' ids."""

    def __init__(self, vocab: int) -> None:
        self.vocab = vocab

    def get_vocab_size(self) -> int:
        return self.vocab

    def token_to_id(self, token: str) -> int:
        return {"<|endoftext|>": 0, "<|startoftext|>": 1, "<|pad|>": 2}[token]


def cpu_name() -> str:
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return platform.machine()
    names = [line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")]
    return names[0] if names else platform.machine()


def synchronize(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: Any, dtype: Any, size: int, seconds: float = 1.0) -> float:
    """FLOP/s of a size x size matmul in dtype, best of the runs that fit in `seconds`."""
    import torch

    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    for _ in range(3):
        a @ b
    synchronize(device)
    best, deadline = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        for _ in range(10 if device.type == "cuda" else 1):
            a @ b
        synchronize(device)
        best = min(best, (time.perf_counter() - start) / (10 if device.type == "cuda" else 1))
    return 2 * size**3 / best


def timed(run_step: Callable[[int], None], device: Any, warmup: int, steps: int) -> float:
    """Seconds for `steps` steps after `warmup` untimed ones."""
    for s in range(warmup):
        run_step(s)
    synchronize(device)
    start = time.perf_counter()
    for s in range(warmup, warmup + steps):
        run_step(s)
    synchronize(device)
    return time.perf_counter() - start


def measure(preset: str, args: argparse.Namespace, rt: Any, scratch: Path) -> dict[str, Any]:
    import numpy as np
    import torch
    import torch.nn.functional as F

    config = trainer.TrainConfig(
        data=str(scratch), tokenizer="", preset=preset, tokens=1, context=args.context,
        batch_tokens=args.batch_tokens or 2 * args.micro_batch * (args.context or get_preset(preset).context),
        micro_batch=args.micro_batch, warmup_steps=1, dtype=args.dtype,
    )  # fmt: skip
    the_plan = trainer.plan(config, 1)
    total = args.warmup + args.steps
    tokens = np.random.default_rng(0).integers(
        0, args.vocab, total * the_plan.examples_per_step * the_plan.context + 1, dtype=np.uint16
    )
    tokens.tofile(scratch / f"{preset}.bin")
    windows = trainer.TokenWindows(scratch / f"{preset}.bin", "uint16", the_plan.context)
    order = trainer.EpochOrder(windows.count, 0)

    raw = trainer._pretraining_model(config, SyntheticTokenizer(args.vocab), the_plan, None)
    model = trainer._place(raw, rt)
    bare = copy.deepcopy(raw)  # the same weights, trained separately
    optimizer = trainer._optimizer(raw, config, the_plan.lr, rt)
    fused = {"fused": True} if rt.device.type == "cuda" else {}
    bare_optimizer = torch.optim.AdamW(
        bare.parameters(), lr=config.lr, betas=(config.beta1, config.beta2), eps=config.eps,
        weight_decay=config.weight_decay, **fused,
    )  # fmt: skip
    if args.compile:
        model, bare_model = torch.compile(model), torch.compile(bare)
    else:
        bare_model = bare

    def passk_step(step: int) -> None:
        trainer._step(model, optimizer, windows, order, the_plan, config, rt, step, total)

    mb, acc = config.micro_batch, the_plan.accumulation
    batches = [
        windows.batch(range(i * mb, (i + 1) * mb)).to(rt.device) for i in range(total * acc)
    ]  # fmt: skip: the same windows in place, not in the step's order
    autocast = torch.autocast(rt.device.type, dtype=rt.autocast, enabled=rt.autocast is not None)

    def bare_step(step: int) -> None:
        for batch in batches[step * acc : (step + 1) * acc]:
            with autocast:
                logits = bare_model(input_ids=batch.input_ids, use_cache=False).logits
            loss = F.cross_entropy(logits.float().flatten(0, 1), batch.labels.flatten())
            (loss / acc).backward()
        bare_optimizer.step()
        bare_optimizer.zero_grad(set_to_none=True)

    passk_s = timed(passk_step, rt.device, args.warmup, args.steps)
    bare_s = timed(bare_step, rt.device, args.warmup, args.steps)
    counts = count_parameters(raw)
    step_tokens = the_plan.tokens_per_step
    return {
        "preset": preset,
        "parameters": counts["parameters"],
        "non_embedding_parameters": counts["non_embedding_parameters"],
        "context": the_plan.context,
        "micro_batch": mb,
        "accumulation": acc,
        "tokens_per_step": step_tokens,
        "steps": args.steps,
        "passk_tokens_per_s": args.steps * step_tokens / passk_s,
        "bare_tokens_per_s": args.steps * step_tokens / bare_s,
        "ratio": passk_s / bare_s,  # how many times longer passk's steps take
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--presets", help="comma-separated (CPU: pico,nano,micro; CUDA: "
                        "tiny,small,base)")  # fmt: skip
    parser.add_argument("--steps", type=int, help="timed steps per preset (CPU 5, CUDA 20)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first (2)")
    parser.add_argument("--dtype", choices=("auto", "bf16", "fp32"), default="auto")
    parser.add_argument("--compile", action="store_true", help="torch.compile both models")
    parser.add_argument("--context", type=int, help="sequence length (default: the preset's)")
    parser.add_argument("--micro-batch", type=int, help="sequences per forward (CPU 4, CUDA 16)")
    parser.add_argument("--batch-tokens", type=int, help="tokens per step (2 micro-batches)")
    parser.add_argument("--vocab", type=int, default=8192, help="vocabulary size (8192)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import torch
    import transformers

    args = parse_args(argv)
    rt = trainer._runtime(args.device)
    rt.autocast = trainer._autocast_dtype(args.dtype, rt.device)
    presets, steps, micro_batch = DEFAULTS[rt.device.type]
    args.presets = args.presets or presets
    args.steps = args.steps or steps
    args.micro_batch = args.micro_batch or micro_batch
    if args.compile:
        args.warmup = max(args.warmup, 3)
    size = 8192 if rt.device.type == "cuda" else 2048
    peaks = {
        "bf16": matmul_peak(rt.device, torch.bfloat16, size),
        "fp32": matmul_peak(rt.device, torch.float32, size),
    }
    compute = "bf16" if rt.autocast is not None else "fp32"
    name = torch.cuda.get_device_name(rt.device) if rt.device.type == "cuda" else cpu_name()
    print(
        f"machine: {name}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"transformers {transformers.__version__}, {torch.get_num_threads()} threads; "
        f"load {os.getloadavg()[0]:.2f}"
    )
    print(
        f"device {rt.device}, compute {compute}{', compiled' if args.compile else ''}; measured "
        f"{size}x{size} matmul peak: bf16 {peaks['bf16'] / 1e12:.3f} TFLOP/s, fp32 "
        f"{peaks['fp32'] / 1e12:.3f} TFLOP/s; MFU = 6 N tokens/s / {compute} peak, N = all "
        "parameters (tied embedding once)\n"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="passk-trainbench-") as scratch:
        for preset in args.presets.split(","):
            row = measure(preset.strip(), args, rt, Path(scratch))
            row["mfu"] = 6 * row["parameters"] * row["passk_tokens_per_s"] / peaks[compute]
            row["bare_mfu"] = 6 * row["parameters"] * row["bare_tokens_per_s"] / peaks[compute]
            rows.append(row)
            if rt.device.type == "cuda":
                torch.cuda.empty_cache()
    print(
        f"{'preset':<7} {'params':>8} {'ctx':>5} {'tok/step':>8} {'passk tok/s':>12} "
        f"{'bare tok/s':>11} {'ratio':>6} {'MFU':>6} {'bare MFU':>8}"
    )
    for r in rows:
        print(
            f"{r['preset']:<7} {r['parameters'] / 1e6:>7.2f}M {r['context']:>5} "
            f"{r['tokens_per_step']:>8} {r['passk_tokens_per_s']:>12,.0f} "
            f"{r['bare_tokens_per_s']:>11,.0f} {r['ratio']:>5.2f}x {r['mfu']:>6.1%} "
            f"{r['bare_mfu']:>8.1%}"
        )
    if args.json:
        report = {
            "device": str(rt.device),
            "device_name": name,
            "torch": torch.__version__,
            "compute": compute,
            "compile": args.compile,
            "peak_flops": peaks,
            "matmul_size": size,
            "mfu_parameters": "all parameters, tied embedding counted once",
            "rows": rows,
        }
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
