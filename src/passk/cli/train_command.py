"""`passk train`: pretrain a Llama-style code model on a tokenized corpus (Chen et al. 2021, §3).

Data-parallel: `torchrun --nproc-per-node N -m passk train ...` (gloo on CPU, NCCL on GPUs).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from passk.cli.output import training_progress
from passk.errors import InputError

_SUFFIXES = {"k": 10**3, "m": 10**6, "b": 10**9, "g": 10**9, "t": 10**12}


def count(text: str) -> int:
    """A count with an optional k/M/B suffix: '50M' -> 50000000."""
    t = text.strip().lower().replace("_", "")
    scale = _SUFFIXES.get(t[-1:], 1)
    try:
        value = float(t[:-1] if scale != 1 else t) * scale
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a count: {text!r} (e.g. 50M, 2.5B)") from None
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"not a positive whole count: {text!r}")
    return int(value)


def register(commands: Any) -> None:
    from passk.training.presets import PRESETS

    p = commands.add_parser(
        "train",
        help="pretrain a code model (Llama-style preset) on a tokenized corpus",
        description="Pretrain a decoder-only transformer on the arrays of `passk corpus "
        "tokenize`, with the Codex recipe: AdamW (0.9, 0.95), warmup then cosine decay, "
        "gradient clipping and accumulation, bf16 autocast where fast. The output directory "
        "is a Hugging Face model directory. Data-parallel: torchrun --nproc-per-node N -m "
        "passk train ...",
    )
    p.add_argument("--data", help="tokenized data directory (passk corpus tokenize)")
    p.add_argument(
        "--tokenizer", help="tokenizer directory (default: the one named in the data's stats)"
    )
    p.add_argument("--preset", choices=sorted(PRESETS), help="model size")
    p.add_argument("--tokens", type=count, help="training tokens, e.g. 50M")
    p.add_argument("--out", help="output model directory")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its checkpoint")
    add_recipe_options(p)
    add_run_options(p, checkpoint_interval=500)
    p.set_defaults(handler=run)


def add_recipe_options(p: argparse.ArgumentParser) -> None:
    """The training recipe's options, shared by `passk train` and `passk scaling`."""
    p.add_argument("--context", type=int, help="sequence length (default: the preset's)")
    p.add_argument("--batch-tokens", type=count, default=65536, help="tokens per step (64k)")
    p.add_argument("--micro-batch", type=int, default=16, help="sequences per forward pass")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (1e-3)")
    p.add_argument("--eval-interval", type=int, default=250, help="steps between validations")
    p.add_argument("--eval-tokens", type=count, default=1 << 20, help="validation tokens (1M)")
    add_schedule_options(p, seed="initialisation and data-order seed (0)")


def add_schedule_options(p: argparse.ArgumentParser, *, seed: str) -> None:
    """The schedule, optimizer and device options of every training command."""
    p.add_argument("--min-lr-ratio", type=float, default=0.1, help="final lr / peak (0.1)")
    p.add_argument("--warmup-steps", type=int, default=175, help="linear warmup steps (175)")
    p.add_argument("--weight-decay", type=float, default=0.1, help="AdamW weight decay (0.1)")
    p.add_argument("--clip", type=float, default=1.0, help="gradient norm clip (1.0)")
    p.add_argument("--seed", type=int, help=seed)
    p.add_argument(
        "--dtype",
        choices=("auto", "bf16", "fp32"),
        default="auto",
        help="compute type: bf16 autocast where the device is fast at it (auto)",
    )
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")


def add_run_options(p: argparse.ArgumentParser, *, checkpoint_interval: int) -> None:
    """Checkpoints, the final model's dtype, and stopping early: `passk train` and `passk
    finetune`."""
    p.add_argument(
        "--checkpoint-interval",
        type=int,
        default=checkpoint_interval,
        help=f"steps between checkpoints ({checkpoint_interval})",
    )
    p.add_argument(
        "--export-dtype",
        choices=("float32", "bfloat16"),
        default="float32",
        help="weights of the final model directory (float32)",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        metavar="SECONDS",
        help="shorten the schedule to end within this many seconds",
    )
    p.add_argument(
        "--stop-after",
        type=int,
        metavar="STEPS",
        help="stop with a checkpoint after this many steps (resume later)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def recipe_config(args: argparse.Namespace, preset: str, **more: Any) -> Any:
    """The TrainConfig of args' data, tokenizer, tokens and recipe options, for `preset`."""
    from passk.training.tokenized import tokenizer_of
    from passk.training.trainer import TrainConfig

    return TrainConfig(
        data=str(args.data),
        tokenizer=str(args.tokenizer or tokenizer_of(args.data)),
        preset=preset,
        tokens=args.tokens,
        context=args.context,
        batch_tokens=args.batch_tokens,
        micro_batch=args.micro_batch,
        lr=args.lr,
        min_lr_ratio=args.min_lr_ratio,
        warmup_steps=args.warmup_steps,
        weight_decay=args.weight_decay,
        clip=args.clip,
        eval_interval=args.eval_interval,
        eval_tokens=args.eval_tokens,
        seed=0 if args.seed is None else args.seed,
        dtype=args.dtype,
        **more,
    )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def config_from_args(args: argparse.Namespace) -> Any:
    missing = [f"--{n}" for n in ("data", "preset", "tokens") if getattr(args, n) is None]
    if missing:
        raise InputError(f"passk train needs {', '.join(missing)} (or --resume DIR)")
    return recipe_config(
        args,
        args.preset,
        checkpoint_interval=args.checkpoint_interval,
        export_dtype=args.export_dtype,
    )


def run(args: argparse.Namespace) -> int:
    from passk.training.trainer import IDENTITY, resume_config, train

    if args.resume:
        # Settings given beside --resume must agree with the checkpoint's; those not given
        # are the checkpoint's own.
        given = {name: getattr(args, name) for name in IDENTITY}
        given.update(data=_text(args.data), tokenizer=_text(args.tokenizer))
        config = resume_config(resumed(args), given)
    else:
        if not args.out:
            raise InputError("passk train needs --out DIR (or --resume DIR)")
        config = config_from_args(args)
    return run_training(train, config, args, "train")


def resumed(args: argparse.Namespace) -> str:
    """The run directory of --resume DIR, which --out may only repeat."""
    if args.out and Path(args.out) != Path(args.resume):
        raise InputError("--resume DIR continues DIR: leave --out out or give the same DIR")
    return str(args.resume)


def run_training(function: Any, config: Any, args: argparse.Namespace, command: str) -> int:
    """Run `passk.training.trainer.train` or `passk.training.finetune.finetune` with the
    options every training command has, a progress bar, and the outcome printed."""
    out = args.resume or args.out
    with training_progress(not args.no_progress) as on_row:
        summary = function(
            config,
            out,
            resume=bool(args.resume),
            device=args.device,
            compile=args.compile,
            time_budget=args.time_budget,
            stop_after=args.stop_after,
            on_row=on_row,
        )
    print_summary(summary, out, command)
    return 0


def print_summary(summary: dict[str, Any], out: str | Path, command: str) -> None:
    """The run's one-line outcome (from rank 0 only), and how to continue it if it stopped."""
    if summary.get("final_train_loss") is None and summary.get("steps_this_run") is not None:
        return  # not the main process of a data-parallel run: rank 0 reports
    state = "finished" if summary["complete"] else "stopped"
    if summary.get("stopped_early"):
        state = "stopped early (the validation loss stopped improving)"
    best = ""
    if summary.get("best_valid_loss") is not None:
        best = f", best valid loss {summary['best_valid_loss']} at step {summary['best_step']}"
    print(
        f"{out}: {state} at step {summary['steps']} of {summary['total_steps']}, "
        f"{summary['tokens']:,} tokens ({summary['epochs']} epochs), "
        f"train loss {summary['final_train_loss']}, valid loss {summary['final_valid_loss']}"
        f"{best}, {summary['tokens_per_s_this_run']:,.0f} tokens/s"
    )
    if not summary["complete"]:
        print(f"continue with: passk {command} --resume {out}")
