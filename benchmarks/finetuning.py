"""Fine-tuning throughput: `passk finetune`'s steps against pretraining steps of the same model
on the same tokens, to size a Codex-S run.

Problems are functions of this machine's standard library, HumanEval-shaped (a top-level
function with a docstring and 2 to 40 body lines: the prompt is its signature and docstring,
the solution its body; HumanEval itself is never used, and `passk finetune` would refuse it).
Two measurements in one run, on one device, with the same model:

  finetune   `passk.training.finetune.finetune` as `passk finetune` runs it (left-padded
             micro-batches of problems sorted by length within each step, loss on the
             solutions, the trainer's step), timed by the trainer's own per-step log; tokens
             are the problems' real tokens (prompt, solution, end token), padding excluded.
  pretrain   `trainer._step` on windows cut from the same problems' tokens laid end to end, at
             a context near the problems' mean length and the same micro-batch: every
             position a target and no padding, what the same tokens cost as pretraining data.

The ratio (finetune tokens/s over pretrain tokens/s) is what padding and shorter rows cost;
the padding share is measured from the timed steps' batches. Tokens per CPU-second (the
process's CPU time, all its threads) are printed beside tokens per second, for a machine that
other work shares. Nothing is asserted about timings. Needs torch, transformers and passk's training modules:

    .venv/bin/python benchmarks/finetuning.py [--model models/passk-tiny] [--problems 300]
        [--steps 20] [--batch-size 32] [--micro-batch 8] [--dtype auto|bf16|fp32] [--json PATH]
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import os
import statistics
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # works with or without passk installed

from passk.training import finetune, trainer  # noqa: E402
from passk.training.decontaminate import humaneval_index  # noqa: E402

WARMUP = 2  # untimed steps first


def stdlib_problems(limit: int, per_module: int = 3) -> list[dict[str, str]]:
    """Up to `limit` HumanEval-shaped problems from the standard library, at most
    `per_module` a module, none that overlaps HumanEval."""
    index, _ = humaneval_index()
    found: list[dict[str, str]] = []
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/*.py")):
        if "test" in path.parts[-2:] or path.name.startswith("test"):
            continue
        for problem in list(functions(path, stdlib))[:per_module]:
            if index.reason(problem["prompt"] + problem["canonical_solution"]) is None:
                found.append(problem)
            if len(found) == limit:
                return found
    return found


def functions(path: Path, stdlib: Path) -> Iterator[dict[str, str]]:
    try:
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
        return
    lines = text.splitlines(keepends=True)
    for node in tree.body:
        if not isinstance(node, ast.FunctionDef) or ast.get_docstring(node) is None:
            continue
        doc_end = node.body[0].end_lineno
        if len(node.body) < 2 or doc_end is None or node.end_lineno is None:
            continue
        if node.body[1].lineno <= doc_end or not 2 <= node.end_lineno - doc_end <= 40:
            continue
        start = node.decorator_list[0].lineno if node.decorator_list else node.lineno
        module = path.relative_to(stdlib).with_suffix("").as_posix()
        yield {
            "task_id": f"stdlib/{module}:{node.name}",
            "prompt": "".join(lines[start - 1 : doc_end]),
            "canonical_solution": "".join(lines[doc_end : node.end_lineno]),
            "entry_point": node.name,
            "test": "def check(candidate):\n    assert callable(candidate)\n",
        }


def measure_finetune(args: argparse.Namespace, data: Path, scratch: Path) -> dict[str, Any]:
    config = finetune.FinetuneConfig(
        model=str(args.model), data=str(data), batch_size=args.batch_size,
        micro_batch=args.micro_batch, eval_interval=10**6, checkpoint_interval=10**6,
        dtype=args.dtype, epochs=100,
    )  # fmt: skip
    rows: list[dict[str, Any]] = []

    def on_row(row: dict[str, Any]) -> None:
        rows.append({**row, "cpu_s": time.process_time()})  # called right after each step

    summary = finetune.finetune(
        config, scratch / "finetuned", device=args.device, stop_after=WARMUP + args.steps,
        on_row=on_row,
    )  # fmt: skip
    steps = [r for r in rows if "loss" in r]
    timed = steps[WARMUP:]
    tokens = timed[-1]["tokens"] - steps[WARMUP - 1]["tokens"]
    seconds = sum(r["step_s"] for r in timed)
    cpu_seconds = timed[-1]["cpu_s"] - steps[WARMUP - 1]["cpu_s"]
    prepared = finetune.prepare(config)
    padded = padded_share(prepared.train, summary, args)
    return {
        "model": str(args.model),
        "parameters": summary["parameters"],
        "autocast": summary["autocast"],
        "train_problems": summary["train_problems"],
        "problems_per_step": summary["examples_per_step"],
        "tokens_per_problem": round(statistics.mean(len(t) for t in prepared.train.tokens), 1),
        "steps": len(timed),
        "tokens_per_step": round(tokens / len(timed)),
        "tokens_per_s": tokens / seconds,
        "tokens_per_cpu_s": tokens / cpu_seconds,
        "padding_share": padded,
        "prepared": prepared,
    }


def padded_share(data: Any, summary: dict[str, Any], args: argparse.Namespace) -> float:
    """The share of the timed steps' batch positions that are padding."""
    the_plan = trainer.Plan(
        summary["context"], summary["examples_per_step"], summary["accumulation"], 1, 1, 1.0, 0.1
    )
    order = trainer.EpochOrder(data.count, 0)
    real = padded = 0
    for step in range(WARMUP, WARMUP + args.steps):
        chosen = trainer.step_examples(data, order, the_plan, step)
        for m in range(0, len(chosen), args.micro_batch):
            batch = data.batch(chosen[m : m + args.micro_batch])
            padded += batch.input_ids.numel()
            real += int(batch.attention_mask.sum())
    return 1 - real / padded


def measure_pretrain(args: argparse.Namespace, data: Any, context: int, rt: Any) -> dict[str, Any]:
    """`trainer._step` on windows of the same tokens, end to end, at `context`."""
    import numpy as np

    from passk.training.finetune import FinetuneConfig, _load_model

    flat = np.array([t for tokens in data.tokens for t in tokens], dtype=np.uint16)
    path = Path(args.scratch) / "tokens.bin"
    flat.tofile(path)
    windows = trainer.TokenWindows(path, "uint16", context)
    config = FinetuneConfig(
        model=str(args.model), data="", micro_batch=args.micro_batch, dtype=args.dtype
    )
    wanted = args.batch_size * statistics.mean(len(t) for t in data.tokens) / context
    accumulation, per_step = trainer.batching(wanted, args.micro_batch, 1)
    steps = WARMUP + args.steps
    the_plan = trainer.Plan(context, per_step, accumulation, steps, 1, 1e-4, 0.1)
    raw = _load_model(Path(args.model))
    model = trainer._place(raw, rt)
    optimizer = trainer._optimizer(raw, config, the_plan.lr, rt)
    order = trainer.EpochOrder(windows.count, 0)
    seconds = cpu_seconds = 0.0
    for step in range(steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        trainer._step(model, optimizer, windows, order, the_plan, config, rt, step, steps)
        if step >= WARMUP:
            seconds += time.perf_counter() - start
            cpu_seconds += time.process_time() - cpu_start
    return {
        "context": context,
        "windows_per_step": per_step,
        "tokens_per_step": per_step * context,
        "tokens_per_s": args.steps * per_step * context / seconds,
        "tokens_per_cpu_s": args.steps * per_step * context / cpu_seconds,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "passk-tiny"))
    parser.add_argument("--problems", type=int, default=300, help="problems to mine (300)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (20)")
    parser.add_argument("--batch-size", type=int, default=32, help="problems per step (32)")
    parser.add_argument("--micro-batch", type=int, default=8, help="problems per forward (8)")
    parser.add_argument("--dtype", choices=("auto", "bf16", "fp32"), default="auto")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    import torch
    import transformers

    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="passk-finetuning-") as scratch:
        args.scratch = scratch
        problems = stdlib_problems(args.problems)
        data = Path(scratch) / "problems.jsonl"
        data.write_text("".join(json.dumps(p) + "\n" for p in problems))
        print(
            f"torch {torch.__version__}, transformers {transformers.__version__}, "
            f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; {len(problems)} problems "
            "from the standard library"
        )
        tuned = measure_finetune(args, data, Path(scratch))
        prepared = tuned.pop("prepared")
        rt = trainer._runtime(args.device)
        rt.autocast = trainer._autocast_dtype(args.dtype, rt.device)
        context = 2 ** round(math.log2(tuned["tokens_per_problem"]))
        base = measure_pretrain(args, prepared.train, context, rt)
    ratio = tuned["tokens_per_s"] / base["tokens_per_s"]
    print(
        f"model {tuned['model']} ({tuned['parameters']:,} parameters), {tuned['autocast']}, "
        f"load {os.getloadavg()[0]:.2f} at the end"
    )
    print(
        f"finetune: {tuned['problems_per_step']} problems/step (mean {tuned['tokens_per_problem']} "
        f"tokens), {tuned['tokens_per_step']:,} tokens/step, {tuned['tokens_per_s']:,.0f} tokens/s "
        f"({tuned['tokens_per_cpu_s']:,.0f} per CPU-second) over {tuned['steps']} steps; padding "
        f"{tuned['padding_share']:.1%} of batch positions"
    )
    print(
        f"pretrain: windows of {base['context']}, {base['tokens_per_step']:,} tokens/step, "
        f"{base['tokens_per_s']:,.0f} tokens/s ({base['tokens_per_cpu_s']:,.0f} per CPU-second); "
        f"finetune/pretrain {ratio:.2f}x"
    )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"finetune": tuned, "pretrain": base, "ratio": ratio}, indent=2) + "\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
