"""`passk scaling`: train several presets and fit L(N) = (N_c / N)^alpha (Chen et al. 2021, fig. 4)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from passk.cli import train_command


def register(commands: Any) -> None:
    p = commands.add_parser(
        "scaling",
        help="train several model sizes and fit validation loss against parameters",
        description="Train each preset on the same data and token budget into OUT/<preset>/ "
        "(finished runs are reused, unfinished ones resumed), then fit L(N) = (N_c / N)^alpha "
        "to final validation loss against non-embedding parameters N, as Chen et al. (2021) "
        "do in figure 4 (alpha 0.13, N_c 5.92e7). Writes OUT/scaling.json and OUT/scaling.png.",
    )
    p.add_argument("--data", required=True, help="tokenized data directory (with valid.bin)")
    p.add_argument(
        "--tokenizer", help="tokenizer directory (default: the one named in the data's stats)"
    )
    p.add_argument(
        "--presets",
        default="nano,micro,tiny,small",
        help="comma-separated presets, two or more (default: nano,micro,tiny,small)",
    )
    p.add_argument(
        "--tokens", type=train_command.count, required=True, help="tokens per model, e.g. 20M"
    )
    p.add_argument("--out", required=True, help="folder for the runs, scaling.json and the plot")
    p.add_argument("--context", type=int, help="sequence length (default: each preset's)")
    p.add_argument(
        "--batch-tokens", type=train_command.count, default=65536, help="tokens per step (64k)"
    )
    p.add_argument("--micro-batch", type=int, default=16, help="sequences per forward pass")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (1e-3)")
    p.add_argument("--warmup-steps", type=int, default=175, help="linear warmup steps (175)")
    p.add_argument("--eval-interval", type=int, default=250, help="steps between validations")
    p.add_argument(
        "--eval-tokens", type=train_command.count, default=1 << 20, help="validation tokens (1M)"
    )
    p.add_argument("--seed", type=int, default=0, help="initialisation and data-order seed")
    p.add_argument("--dtype", choices=("auto", "bf16", "fp32"), default="auto")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--compile", action="store_true", help="torch.compile the models")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.training.scaling import PAPER_ALPHA, PAPER_N_C, SCALING_FILE, scaling
    from passk.training.trainer import TrainConfig

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    base = TrainConfig(
        data=str(args.data),
        tokenizer=str(args.tokenizer or train_command._tokenizer_of(Path(args.data))),
        preset=presets[0] if presets else "",
        tokens=args.tokens,
        context=args.context,
        batch_tokens=args.batch_tokens,
        micro_batch=args.micro_batch,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        eval_interval=args.eval_interval,
        eval_tokens=args.eval_tokens,
        seed=args.seed,
        dtype=args.dtype,
    )
    with train_command._progress(not args.no_progress) as on_row:
        report = scaling(
            base, presets, args.out, device=args.device, compile=args.compile, on_row=on_row
        )
    print(f"{'preset':<8} {'non-embedding N':>15} {'valid loss':>10}  run")
    for r in report["runs"]:
        print(
            f"{r['preset']:<8} {r['non_embedding_parameters']:>15,} "
            f"{r['valid_loss']:>10.4f}  {r['status']}"
        )
    fit = report["fit"]
    print(
        f"fit: L(N) = (N_c / N)^alpha, alpha {fit['alpha']:.4f}, N_c {fit['n_c']:.3g} "
        f"(Chen et al. 2021: alpha {PAPER_ALPHA}, N_c {PAPER_N_C:.3g})"
    )
    written = [
        str(Path(args.out) / SCALING_FILE),
        *([report["plot"]] if report.get("plot") else []),
    ]
    print("wrote " + ", ".join(written))
    return 0
