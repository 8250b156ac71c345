"""Write a model card (README.md) for a model passk trained, from the files of its runs.

    python scripts/model_card.py MODEL_DIR --card CARD_DIR [--out MODEL_DIR/README.md]

MODEL_DIR holds what `passk train` and scripts/default_model.sh install: config.json,
summary.json, train_log.jsonl, corpus_manifest.json, tokens_stats.json, passk_tokenizer.json,
and experiments.json (what was tried besides, measured by hand: a list of rows with `change`,
`valid_loss`, `humaneval` and `note`). CARD_DIR holds the evaluated runs:
humaneval-n<N>-t0.2/ and humaneval-n<N>-t0.8/ (results.jsonl + results.summary.json) and
doctests-n<N>-t0.8/ (a `passk run` directory). Every figure in the card is read from those
files; nothing is typed in by hand except the paper's numbers and the prose.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

# Chen et al. (2021), table 1 and figure 7; CodeParrot and PolyCoder from their own reports.
PUBLISHED = [
    ("GPT-Neo 125M", "125M", "~300B tokens of the Pile", (0.75, 1.88, 2.97)),
    ("Codex-12M", "12M", "100B tokens of GitHub Python, from GPT-3", (2.00, 3.62, 8.58)),
    ("PolyCoder 160M", "160M", "249 GB of 12 languages", (2.13, 3.35, 4.88)),
    ("CodeParrot-small", "110M", "~29B tokens of GitHub Python", (3.80, 6.57, 12.78)),
]


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.2f}"


def metric(summary: dict[str, Any], name: str) -> str:
    value = summary["pass_at_k"].get(name)
    if value is None:
        return "-"
    low, high = summary["confidence_intervals"][name]
    return f"{pct(value)} ({pct(low)}-{pct(high)})"


def solved(summary: dict[str, Any]) -> list[tuple[str, int, int]]:
    rows = [(t, v["passed"], v["n"]) for t, v in summary["per_problem"].items() if v["passed"]]
    return sorted(rows, key=lambda r: (-r[1], int(r[0].split("/")[-1])))


def run_summary(directory: Path) -> dict[str, Any] | None:
    path = directory / "results.summary.json"
    return load(path) if path.is_file() else None


def card(model: Path, card_dir: Path, samples_note: str = "") -> str:
    config = load(model / "config.json")
    train = load(model / "summary.json")
    manifest = load(model / "corpus_manifest.json")
    tokens = load(model / "tokens_stats.json")
    tok = load(model / "passk_tokenizer.json")
    experiments = load(model / "experiments.json") if (model / "experiments.json").is_file() else []
    log = [json.loads(line) for line in (model / "train_log.jsonl").read_text().splitlines()]
    valid = [(r["step"], r["tokens"], r["valid_loss"]) for r in log if "valid_loss" in r]

    low_t = sorted(card_dir.glob("humaneval-n*-t0.2"))
    high_t = sorted(card_dir.glob("humaneval-n*-t0.8"))
    s02 = run_summary(low_t[0]) if low_t else None
    s08 = run_summary(high_t[0]) if high_t else None
    doct = sorted(card_dir.glob("doctests-n*-t0.8"))
    sdoc = run_summary(doct[0]) if doct else None

    counts = manifest["counts"]
    splits = manifest["splits"]
    train_bytes, valid_bytes = splits["train"]["bytes"], splits["valid"]["bytes"]
    train_tokens = tokens["splits"]["train"]["tokens"]
    valid_tokens = tokens["splits"]["valid"]["tokens"]
    cfg = train["config"]
    final_valid = train["final_valid_loss"]
    bits_per_byte = final_valid * valid_tokens / valid_bytes / 0.6931471805599453

    out: list[str] = []
    w = out.append
    w("# passk-tiny\n")
    w(
        "passk's own code model: a 24M-parameter Llama-style decoder trained from scratch by "
        "this project, on Python files found on one machine, with passk's corpus, tokenizer "
        "and training commands. It is the default model of `passk run`, so passk works on a "
        "fresh machine with no network. It is small and weak: it exists to exercise the whole "
        "pipeline honestly, and to show how far a model this size gets.\n"
    )
    w("## HumanEval\n")
    n02 = s02["samples_per_problem"]["min"] if s02 else 0
    n08 = s08["samples_per_problem"]["min"] if s08 else 0
    w(
        f"All 164 problems, {n02} samples per problem at T=0.2 (pass@1) and {n08} at T=0.8 "
        "(pass@10, pass@100), nucleus top-p 0.95, at most 128 new tokens, the paper's stop "
        "sequences, every sample run in passk's sandbox (3 s CPU each); percentages with 95% "
        "bootstrap confidence intervals over problems. The paper's numbers are pass@1 at "
        "T=0.2 and pass@10/100 at T=0.8 too." + (f" {samples_note}" if samples_note else "") + "\n"
    )
    w("| model | parameters | data | pass@1 | pass@10 | pass@100 |")
    w("| --- | ---: | --- | ---: | ---: | ---: |")
    if s02 and s08:
        w(
            f"| **passk-tiny** | 24.4M | {train['tokens'] / 1e6:.0f}M tokens ({train['epochs']:.1f} "
            f"epochs of {train_tokens / 1e6:.1f}M) | {metric(s02, 'pass@1')} | "
            f"{metric(s08, 'pass@10')} | {metric(s08, 'pass@100')} |"
        )
    for name, params, data, (p1, p10, p100) in PUBLISHED:
        w(f"| {name} | {params} | {data} | {p1:.2f} | {p10:.2f} | {p100:.2f} |")
    w("")
    if s02 and s08:
        w(
            f"At T=0.8, pass@1 is {metric(s08, 'pass@1')}; at T=0.2, pass@10 is "
            f"{metric(s02, 'pass@10')} and pass@100 {metric(s02, 'pass@100')}.\n"
        )
        w("Problems solved at least once (passing samples out of n):\n")
        w("| problem | T=0.2 | T=0.8 |")
        w("| --- | ---: | ---: |")
        a = {t: p for t, p, _ in solved(s02)}
        b = {t: p for t, p, _ in solved(s08)}
        for t in sorted(set(a) | set(b), key=lambda t: int(t.split("/")[-1])):
            w(f"| {t} | {a.get(t, 0)}/{n02} | {b.get(t, 0)}/{n08} |")
        w("")
        errors = ", ".join(f"{k} {v}" for k, v in s08["errors"].items())
        w(f"Failures at T=0.8 by exception: {errors}.\n")

    w("## A benchmark mined from held-out code: `doctests:`\n")
    if sdoc:
        ndoc = sdoc["samples_per_problem"]["min"]
        w(
            f"`passk run --benchmark doctests:CORPUS` turns the functions with `>>>` examples in "
            f"the corpus's held-out split (never trained on) into problems whose original body "
            f"passes its own examples in the sandbox: here {sdoc['problems']} problems. "
            f"{ndoc} samples per problem at T=0.8: pass@1 {metric(sdoc, 'pass@1')}, pass@10 "
            f"{metric(sdoc, 'pass@10')}, pass@100 {metric(sdoc, 'pass@100')}.\n"
        )
        for t, p, n in solved(sdoc):
            w(f"- {t}: {p}/{n}")
        w(
            "\nThe held-out split is 1% of the files, and most doctests in installed packages "
            "call their function through a module (`np.f(...)`), import relatives or use "
            "helpers the prompt leaves out, so few problems survive: point `doctests:` at a "
            "folder of your own code for a larger set.\n"
        )
    else:
        w("Not run.\n")

    w("## Data\n")
    sources = "; ".join(
        f"{s['kind']} `{s['root']}` ({s['kept']:,} of {s['found']:,} files kept)"
        for s in manifest["sources"]
    )
    found = [e["path"] for e in manifest.get("examples", {}).get("contaminated", [])]
    contaminated = ", ".join(f"`{p}`" for p in dict.fromkeys(found)) or "none listed"
    filtered = ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in counts["filtered"].items() if v)
    w(
        f"`passk corpus build` (seed {manifest['seed']}) over {sources}. Of {counts['found']:,} "
        f".py files it dropped by the paper's filters: {filtered}; "
        f"{counts['exact_duplicates']:,} exact and {counts['near_duplicates']:,} near duplicates "
        f"(MinHash, Jaccard ≥ {manifest['thresholds']['jaccard_threshold']}); and "
        f"{counts['contaminated']} files overlapping HumanEval (shared "
        f"{manifest['thresholds']['contamination_ngram']}-word sequences, or "
        f"{manifest['thresholds']['entry_point_ngram']} with the entry point defined: "
        f"{contaminated}). Kept: {counts['kept']:,} files, "
        f"{(train_bytes + valid_bytes) / 1e6:.1f} MB; {splits['valid']['files']} files "
        f"({manifest['valid_fraction']:.0%}) held out for validation. The manifest is "
        f"`corpus_manifest.json`.\n"
    )
    w("## Tokenizer\n")
    w(
        f"Byte-level BPE, {tok['vocab_size']:,} ids (`<|endoftext|>` 0, `<|startoftext|>`, "
        f"`<|pad|>`), trained by `passk tokenizer train` on the first "
        f"{tok['max_bytes'] / 1e6:.0f} MB of the training split, with tokens for runs of "
        f"spaces and tabs (the paper's whitespace tokens). Training split: "
        f"{train_tokens:,} tokens, {train_bytes / train_tokens:.2f} bytes per token. "
        "Measured with `passk tokenizer compare` on the standard library's corpus, whitespace "
        "tokens cut the token count by 42.5% (the paper: about 30%).\n"
    )
    w("## Architecture\n")
    w(
        f"Llama-style decoder (`LlamaForCausalLM`): {config['num_hidden_layers']} layers, width "
        f"{config['hidden_size']}, {config['num_attention_heads']} heads, SwiGLU FFN "
        f"{config['intermediate_size']}, RMSNorm, RoPE (θ 10,000), context "
        f"{config['max_position_embeddings']}, tied input/output embeddings, no biases: "
        f"{train['parameters']:,} parameters ({train['non_embedding_parameters']:,} "
        "non-embedding). Weights in bfloat16 (`model.safetensors`); passk computes in "
        "float32 on CPUs.\n"
    )
    w("## Training\n")
    w(
        f"`passk train --preset tiny` with the paper's recipe: AdamW (β {cfg['beta1']}, "
        f"{cfg['beta2']}, ε {cfg['eps']}, weight decay {cfg['weight_decay']}), peak learning "
        f"rate {cfg['lr']} after {cfg['warmup_steps']} warmup steps, cosine decay to "
        f"{cfg['lr'] * cfg['min_lr_ratio']:g}, clipping at {cfg['clip']}, "
        f"{train['tokens_per_step']:,} tokens per step (micro-batch {cfg['micro_batch']} x "
        f"{train['context']}), bf16 autocast, seed {cfg['seed']}. {train['steps']:,} steps, "
        f"{train['tokens']:,} tokens ({train['epochs']} epochs), in {train['wall_s']:.0f} s "
        f"on one NVIDIA H200 ({train['tokens_per_s_this_run']:,.0f} tokens/s over the whole "
        "run; the step count came from a 321 s `--time-budget`, and "
        "scripts/default_model.sh now asks for exactly these steps). Final training loss "
        f"{train['final_train_loss']:.3f} (mean of the last 20 steps), validation loss "
        f"{final_valid:.3f} nats/token ({bits_per_byte:.3f} bits per byte).\n"
    )
    w("| step | tokens | validation loss |")
    w("| ---: | ---: | ---: |")
    for step, tk, loss in valid:
        w(f"| {step:,} | {tk / 1e6:.0f}M | {loss:.3f} |")
    w("\n![loss curve](loss_curve.png)\n")

    if experiments:
        w("## What was tried\n")
        w("| change | validation loss | HumanEval | note |")
        w("| --- | ---: | --- | --- |")
        for row in experiments:
            w(f"| {row['change']} | {row['valid_loss']} | {row['humaneval']} | {row['note']} |")
        w("")

    w("## Reproduce\n")
    w(
        "`make model` (scripts/default_model.sh) rebuilds the corpus from the machine's Python "
        "files, the tokenizer, the token arrays, this training run (same seed and schedule), "
        "the card's samples and their evaluation; `python scripts/model_card.py "
        "models/passk-tiny --card data/default-model/card` writes this card (the summaries "
        "it read are in `card/`). Another machine "
        "has other installed packages, so its corpus and figures differ within what that "
        "changes; bf16 on a GPU is not bit-reproducible across GPUs either.\n"
    )
    w("## Use\n")
    w(
        "```\npassk run                                   # HumanEval with this model\n"
        "passk generate models/passk-tiny --n 10 --out samples.jsonl\n"
        "passk serve models/passk-tiny               # an OpenAI-compatible completions API\n"
        "```\n"
    )
    w(
        "Any Hugging Face loader reads the directory (`AutoModelForCausalLM`, "
        "`AutoTokenizer`). HumanEval prompts end in a newline that this tokenizer usually "
        "merges with the next line's indentation; passk's sampler heals that boundary (it "
        "backs up the newline and makes the first token begin with it). Samplers without "
        "token healing should strip the prompt's final newline, or the model tends to end "
        "the function at once.\n"
    )
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--card", type=Path, required=True, help="folder of the evaluated runs")
    parser.add_argument("--out", type=Path, help="default: MODEL/README.md")
    parser.add_argument("--samples-note", default="", help="where and how the samples were drawn")
    args = parser.parse_args()
    text = card(args.model, args.card, args.samples_note)
    (args.out or args.model / "README.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
