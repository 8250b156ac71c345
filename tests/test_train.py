"""Tests for `passk train`: the loss goes down, resume is exact, data parallelism changes
nothing, the output is a Hugging Face model directory, and bad input or a full disk or a
SIGTERM leaves a clear message and a usable checkpoint.

Every run is the `pico` preset on a 512-id tokenizer trained on a few standard-library
modules, with context 32 and 256 tokens a step (two micro-batches of four windows): eight
steps take a second or two on one core. Runs that need their own process (torchrun, a file
size limit, a signal) are subprocesses; the rest call `train` in this process.
"""

from __future__ import annotations

import json
import math
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from passk.cli import main
from passk.errors import InputError
from passk.training.tokenized import tokenize_corpus
from passk.training.tokenizer import EOS, train_tokenizer
from passk.training.trainer import CHECKPOINT, LOG_FILE, TrainConfig, read_log, train
from test_tokenizer import MODULES, STDLIB, write_corpus

CONTEXT, BATCH_TOKENS, MICRO_BATCH, STEPS = 32, 256, 4, 8
SETTINGS = {  # TrainConfig fields and the `passk train` flags that set them
    "preset": "pico",
    "tokens": STEPS * BATCH_TOKENS,
    "context": CONTEXT,
    "batch_tokens": BATCH_TOKENS,
    "micro_batch": MICRO_BATCH,
    "lr": 3e-3,
    "warmup_steps": 2,
    "eval_interval": 4,
    "eval_tokens": 512,
    "checkpoint_interval": 1000,
    "dtype": "fp32",
}
TIMING = ("step_s", "tokens_per_s")  # log fields that differ from run to run


def make_data(root: Path) -> Path:
    """corpus/, tok/ (512 ids) and data/ (train.bin, valid.bin, stats.json) in root."""
    sources = [(STDLIB / f"{m}.py").read_text(encoding="utf-8") for m in MODULES[:10]]
    corpus = write_corpus(root / "corpus", {"train": sources[:-1], "valid": sources[-1:]})
    tokenize_corpus(corpus, train_tokenizer(corpus, root / "tok", vocab_size=512), root / "data")
    return root


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_data(tmp_path_factory.mktemp("train").resolve())


def config(root: Path, **changes: Any) -> TrainConfig:
    row = {"data": str(root / "data"), "tokenizer": str(root / "tok"), **SETTINGS, **changes}
    return TrainConfig(**row)


def argv(root: Path, *extra: str, **changes: Any) -> list[str]:
    """`passk train` arguments for the same run as config(root, **changes)."""
    row = {"data": str(root / "data"), **SETTINGS, **changes}
    flags = [[f"--{k.replace('_', '-')}", str(v)] for k, v in row.items()]
    return ["train", *(a for pair in flags for a in pair), "--no-progress", *extra]


@pytest.fixture(scope="module")
def uninterrupted(root: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The output directory of the uninterrupted run in a dtype, trained once per module."""
    done: dict[str, Path] = {}

    def get(dtype: str) -> Path:
        if dtype not in done:
            out = tmp_path_factory.mktemp(f"uninterrupted-{dtype}") / "model"
            train(config(root, dtype=dtype), out, device="cpu")
            done[dtype] = out
        return done[dtype]

    return get


def log_rows(out: Path) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in TIMING} for r in read_log(out / LOG_FILE)]


def losses(out: Path) -> list[float]:
    return [r["loss"] for r in read_log(out / LOG_FILE) if "loss" in r]


def weights(directory: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    return load_file(directory / "model.safetensors")


def assert_same_run(out: Path, reference: Path) -> None:
    """Same log (every step's loss, lr, grad norm, every validation) and identical weights."""
    assert log_rows(out) == log_rows(reference)
    assert len(losses(out)) == STEPS
    mine, theirs = weights(out), weights(reference)
    assert mine.keys() == theirs.keys()
    for name in mine:
        assert mine[name].equal(theirs[name]), name


def test_loss_decreases_on_a_repeated_window(root: Path, tmp_path: Path) -> None:
    # train.bin holds exactly one window, so every step trains on the same 32 tokens: a model
    # that learns memorises them, far below what the first steps of real data can reach.
    one = tmp_path / "one-window"
    one.mkdir()
    stats = json.loads((root / "data" / "stats.json").read_text())
    ids = np.fromfile(root / "data" / "train.bin", dtype=stats["dtype"])[1000 : 1001 + CONTEXT]
    ids.tofile(one / "train.bin")
    (one / "stats.json").write_text(json.dumps(stats))
    # One window a step: every copy in a batch would give the same gradient.
    steps = {"tokens": 25 * CONTEXT, "batch_tokens": CONTEXT, "micro_batch": 1, "lr": 1e-2}
    summary = train(config(root, data=str(one), **steps), tmp_path / "model")
    curve = losses(tmp_path / "model")
    assert summary["epochs"] == len(curve) == 25
    assert curve[0] == pytest.approx(math.log(512), abs=0.3)  # untrained: about uniform
    assert curve[-1] < 1.0
    assert curve[-1] < min(curve[:5])


@pytest.mark.parametrize("dtype", ["fp32", "auto"])
def test_resume_is_exact(
    root: Path, uninterrupted: Callable[[str], Path], tmp_path: Path, dtype: str
) -> None:
    out = tmp_path / "model"
    first = train(config(root, dtype=dtype), out, stop_after=3)
    assert (first["steps"], first["complete"]) == (3, False)
    assert (out / CHECKPOINT / "model.safetensors").is_file()
    assert not (out / "model.safetensors").exists()  # no final model before the end
    second = train(None, out, resume=True)
    assert (second["start_step"], second["steps"], second["complete"]) == (3, STEPS, True)
    reference = json.loads((uninterrupted(dtype) / "summary.json").read_text())
    assert second["final_valid_loss"] == reference["final_valid_loss"]
    assert second["final_train_loss"] == reference["final_train_loss"]
    assert_same_run(out, uninterrupted(dtype))


def test_output_loads_with_transformers(root: Path, uninterrupted: Callable[[str], Path]) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = uninterrupted("fp32")
    summary = json.loads((out / "summary.json").read_text())
    # The trainer's validation: the first eval_tokens of valid.bin, in windows, in order.
    valid = np.fromfile(root / "data" / "valid.bin", dtype=np.uint16).astype(np.int64)
    count = 512 // CONTEXT  # eval_tokens
    rows = [valid[j * CONTEXT : (j + 1) * CONTEXT + 1] for j in range(count)]
    batch = torch.from_numpy(np.stack(rows))
    for directory in (out, out / CHECKPOINT):
        model = AutoModelForCausalLM.from_pretrained(directory).eval()
        with torch.no_grad():
            loss = model(input_ids=batch, labels=batch).loss.item()
        assert loss == pytest.approx(summary["final_valid_loss"], abs=2e-5)
    tokenizer = AutoTokenizer.from_pretrained(out)
    assert tokenizer.eos_token == EOS and len(tokenizer) == model.config.vocab_size == 512
    code = "def f(x):\n    return x\n"
    assert tokenizer.decode(tokenizer.encode(code)) == code
    assert (out / "loss_curve.png").stat().st_size > 0


def test_data_parallel_matches_one_process(
    root: Path, uninterrupted: Callable[[str], Path], tmp_path: Path
) -> None:
    # Two gloo processes of one micro-batch each make the same steps as one process that
    # accumulates two: the same windows, the same averaged gradient.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out = tmp_path / "model"
    launch = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
              "--master-addr", "127.0.0.1", "--master-port", str(port), "-m", "passk"]  # fmt: skip
    done = subprocess.run(
        [*launch, *argv(root, "--out", str(out))], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["world_size"], summary["accumulation"]) == (2, 1)
    single = uninterrupted("fp32")
    assert json.loads((single / "summary.json").read_text())["accumulation"] == 2
    assert losses(out) == pytest.approx(losses(single), abs=1e-5)
    mine, theirs = weights(out), weights(single)
    for name in mine:
        assert np.allclose(mine[name].numpy(), theirs[name].numpy(), atol=1e-5), name


def refused(capsys: pytest.CaptureFixture[str], args: list[str]) -> str:
    """The one line of a `passk train` that exits with status 2."""
    assert main(args) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    return err


def test_tokenizer_smaller_than_the_data(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = str(train_tokenizer(root / "corpus", tmp_path / "tok300", vocab_size=300))
    message = rf"data was tokenized with a vocabulary of 512 ids, but the tokenizer {small} has 300"
    with pytest.raises(InputError, match=message):
        train(config(root, tokenizer=small), tmp_path / "model")
    err = refused(capsys, argv(root, "--tokenizer", small, "--out", str(tmp_path / "model")))
    assert err.startswith("passk: error: ") and "use the tokenizer that made the data" in err
    # Without the vocabulary size in stats.json, the ids themselves give the mismatch away.
    shutil.copytree(root / "data", tmp_path / "data")
    stats = json.loads((tmp_path / "data" / "stats.json").read_text())
    del stats["vocab_size"]
    (tmp_path / "data" / "stats.json").write_text(json.dumps(stats))
    with pytest.raises(InputError, match=r"train\.bin: token id \d+ does not fit .* 300 ids"):
        train(config(root, tokenizer=small, data=str(tmp_path / "data")), tmp_path / "model")
    assert not (tmp_path / "model").exists()


def test_unknown_preset(root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(InputError, match=r"unknown preset 'huge'; available: pico, nano, "):
        train(config(root, preset="huge"), tmp_path / "model")
    with pytest.raises(SystemExit) as exit:
        main(argv(root, "--out", str(tmp_path / "model"), preset="huge"))
    assert exit.value.code == 2
    assert "--preset: invalid choice: 'huge'" in capsys.readouterr().err
    assert not (tmp_path / "model").exists()


def test_resume_with_another_preset(
    root: Path, uninterrupted: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = uninterrupted("fp32")
    before = (out / CHECKPOINT / "trainer_state.pt").read_bytes()
    message = "the checkpoint was trained with different settings preset='pico' (asked 'nano')"
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        train(config(root, preset="nano"), out, resume=True)
    err = refused(capsys, argv(root, "--resume", str(out), preset="nano"))
    assert err == f"passk: error: {out}: {message}\n"
    # --preset alone beside --resume: the rest is the checkpoint's, the preset is refused.
    err = refused(capsys, ["train", "--resume", str(out), "--preset", "nano"])
    assert err == f"passk: error: {out}: {message}\n"
    assert (out / CHECKPOINT / "trainer_state.pt").read_bytes() == before


def test_out_with_a_checkpoint_needs_resume(
    root: Path, uninterrupted: Callable[[str], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    out = uninterrupted("fp32")
    with pytest.raises(InputError, match="already holds a checkpoint: continue it with --resume"):
        train(config(root), out)
    err = refused(capsys, argv(root, "--out", str(out)))
    assert err == (
        f"passk: error: {out} already holds a checkpoint: continue it with --resume {out}, "
        "or choose a new --out\n"
    )


def test_full_disk_keeps_the_previous_checkpoint(
    root: Path, uninterrupted: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "model"
    train(config(root), out, stop_after=3)
    saved = {f.name: f.read_bytes() for f in (out / CHECKPOINT).iterdir()}
    limit = 200_000  # bytes per file: the log fits, the model's 560 kB do not

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # fail the write instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run(
        [sys.executable, "-m", "passk", "train", "--resume", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=small_files,
    )
    assert done.returncode == 1
    assert re.fullmatch(
        rf"passk: error: {re.escape(str(out))}: cannot write the checkpoint of step {STEPS}: "
        r".*File too large.*; the previous checkpoint is left as it was",
        done.stderr.splitlines()[-1],
    )
    assert {f.name: f.read_bytes() for f in (out / CHECKPOINT).iterdir()} == saved
    assert sorted(p.name for p in out.iterdir()) == [CHECKPOINT, LOG_FILE]  # no leftovers
    train(None, out, resume=True)
    assert_same_run(out, uninterrupted("fp32"))


SLOW_STEPS = """
import sys, time
from passk.training import trainer
step = trainer._step
def slow_step(*args, **kwargs):
    time.sleep(0.3)  # time to signal the run part way
    return step(*args, **kwargs)
trainer._step = slow_step
from passk.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_sigterm_saves_a_checkpoint(
    root: Path, uninterrupted: Callable[[str], Path], tmp_path: Path
) -> None:
    out = tmp_path / "model"
    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_STEPS, *argv(root, "--out", str(out))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while not losses(out) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=120)
    finally:
        child.kill()
    assert child.returncode == 130, err
    stopped = len(losses(out))
    assert 1 <= stopped < STEPS
    assert err.splitlines()[-1] == (
        f"passk: error: training stopped at step {stopped} of {STEPS}; "
        f"checkpoint saved: continue with --resume {out}"
    )
    train(None, out, resume=True)
    assert_same_run(out, uninterrupted("fp32"))


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"eval_interval": 0}, "--eval-interval must be a whole number of at least 1, got 0"),
        (
            {"checkpoint_interval": 0},
            "--checkpoint-interval must be a whole number of at least 1, got 0",
        ),
        ({"micro_batch": 0}, "--micro-batch must be a whole number of at least 1, got 0"),
        ({"context": 1}, "--context must be at least 2, got 1"),
        ({"lr": -1.0}, "--lr must be positive, got -1.0"),
        ({"lr": float("nan")}, "--lr must be positive, got nan"),
        ({"min_lr_ratio": 2.0}, "--min-lr-ratio must be in [0, 1], got 2.0"),
        ({"clip": 0.0}, "--clip must be positive, got 0.0"),
        ({"export_dtype": "float16"}, "--export-dtype must be one of float32, bfloat16, got"),
        ({"dtype": "fp8"}, "--dtype must be one of auto, bf16, fp32, got 'fp8'"),
    ],
)
def test_bad_settings_fail_before_any_work(
    root: Path, tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InputError) as info:
        train(config(root, **changes), tmp_path / "model")
    assert str(info.value).startswith(message)
    assert not (tmp_path / "model").exists()


def test_bad_settings_on_the_command_line_are_one_line(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused(capsys, argv(root, "--out", str(tmp_path / "model"), eval_interval=0))
    assert err == "passk: error: --eval-interval must be a whole number of at least 1, got 0\n"
    assert not (tmp_path / "model").exists()


def test_a_saved_config_with_an_unknown_setting_is_refused(tmp_path: Path) -> None:
    row = {**SETTINGS, "data": "d", "tokenizer": "t", "learning_rate_typo": 1.0}
    with pytest.raises(InputError, match=r"^x.json: unknown settings learning_rate_typo$"):
        TrainConfig.from_dict(row, where="x.json")
