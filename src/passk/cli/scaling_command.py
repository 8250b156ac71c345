"""`passk scaling`: train several presets and fit L(N) = (N_c / N)^alpha (Chen et al. 2021, fig. 4)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from passk.cli import train_command
from passk.cli.output import training_progress


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
    train_command.add_recipe_options(p)
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from passk.training.scaling import PAPER_ALPHA, PAPER_N_C, SCALING_FILE, scaling

    presets = [p.strip() for p in args.presets.split(",") if p.strip()]
    base = train_command.recipe_config(args, presets[0] if presets else "")
    with training_progress(not args.no_progress) as on_row:
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
