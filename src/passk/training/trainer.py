"""Pretraining a code model on a tokenized corpus: the recipe of Chen et al. (2021), section 3.

AdamW (β1 0.9, β2 0.95, ε 1e-8, weight decay 0.1 on matrices only), a linear warmup (the paper
uses 175 steps) then cosine decay to a tenth of the peak, gradient clipping at 1.0, gradient
accumulation to a batch fixed in tokens, bf16 autocast where the device has fast bf16.

Data order is a function of the step alone: the token array is cut into windows of
`context + 1` tokens, each epoch visits them in a permutation seeded by (seed, epoch), and
optimizer step `s` takes global windows `s*G .. s*G+G-1`. So the data position needs no
bookkeeping beyond the step, a resumed run sees exactly the windows an uninterrupted run
would, and data-parallel processes split a step's windows between them (micro-batch `m` of
rank `r` is global micro-batch `m*world + r`): two processes with one micro-batch each compute
the same step as one process accumulating two.

The output directory is a Hugging Face model directory once training ends (config.json,
model.safetensors, tokenizer files). While training, `checkpoint/` inside it holds the latest
checkpoint, itself a loadable model directory plus `trainer_state.pt` (optimizer, schedule,
step, RNG states). A new checkpoint is written beside it and swapped in by renames, so a crash
or a full disk leaves the last good one intact. `train_log.jsonl` has one row per step and one
per validation; `summary.json` and `loss_curve.png` are written at the end.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Any

from passk.errors import InputError, Interrupted, OutputError
from passk.records.files import complete_directory, replace_directory, write_text_atomic
from passk.training.presets import count_parameters, get_preset, llama_config
from passk.training.tokenized import read_stats

CHECKPOINT = "checkpoint"
STATE_FILE = "trainer_state.pt"
CONFIG_FILE = "train_config.json"
LOG_FILE = "train_log.jsonl"
SUMMARY_FILE = "summary.json"
PLOT_FILE = "loss_curve.png"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
DTYPES = ("auto", "bf16", "fp32")
EXPORT_DTYPES = ("float32", "bfloat16")
# The settings that make a run what it is: given beside --resume, they must be the checkpoint's.
IDENTITY = ("preset", "data", "tokenizer", "tokens", "context", "seed")


@dataclass
class TrainConfig:
    """What a training run is: everything that decides its result. Saved with the run."""

    data: str
    tokenizer: str
    preset: str
    tokens: int
    context: int | None = None  # default: the preset's
    batch_tokens: int = 65536  # tokens per optimizer step, over all processes
    micro_batch: int = 16  # windows per forward pass per process
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 175
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    clip: float = 1.0
    eval_interval: int = 250
    eval_tokens: int = 1 << 20
    checkpoint_interval: int = 500
    seed: int = 0
    dtype: str = "auto"  # auto | bf16 | fp32: the autocast compute type
    export_dtype: str = "float32"  # weights in the final model directory: float32 | bfloat16

    def __post_init__(self) -> None:
        get_preset(self.preset)
        for flag, value, low in (
            ("--tokens", self.tokens, 1),
            ("--batch-tokens", self.batch_tokens, 1),
            ("--micro-batch", self.micro_batch, 1),
            ("--warmup-steps", self.warmup_steps, 0),
            ("--eval-interval", self.eval_interval, 1),
            ("--eval-tokens", self.eval_tokens, 1),
            ("--checkpoint-interval", self.checkpoint_interval, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise InputError(f"{flag} must be a whole number of at least {low}, got {value!r}")
        if self.context is not None and (not isinstance(self.context, int) or self.context < 2):
            raise InputError(f"--context must be at least 2, got {self.context!r}")
        checks: tuple[tuple[str, Any, Callable[[float], bool], str], ...] = (
            ("--lr", self.lr, lambda v: v > 0, "positive"),
            ("--min-lr-ratio", self.min_lr_ratio, lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("--weight-decay", self.weight_decay, lambda v: v >= 0, "0 or more"),
            ("beta1", self.beta1, lambda v: 0 <= v < 1, "in [0, 1)"),
            ("beta2", self.beta2, lambda v: 0 <= v < 1, "in [0, 1)"),
            ("eps", self.eps, lambda v: v > 0, "positive"),
            ("--clip", self.clip, lambda v: v > 0, "positive"),
        )
        for flag, number, ok, what in checks:
            real = isinstance(number, int | float) and not isinstance(number, bool)
            if not (real and math.isfinite(number) and ok(number)):
                raise InputError(f"{flag} must be {what}, got {number!r}")
        if self.dtype not in DTYPES:
            raise InputError(f"--dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.export_dtype not in EXPORT_DTYPES:
            raise InputError(
                f"--export-dtype must be one of {', '.join(EXPORT_DTYPES)}, "
                f"got {self.export_dtype!r}"
            )

    @classmethod
    def from_dict(cls, row: dict[str, Any], *, where: str = "train config") -> TrainConfig:
        """The config saved as JSON; a key it does not know is an error, not dropped."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(row) - known)
        if unknown:
            raise InputError(f"{where}: unknown settings {', '.join(unknown)}")
        return cls(**row)


@dataclass(frozen=True)
class Plan:
    """The step arithmetic of a run on a given number of processes."""

    context: int
    windows_per_step: int  # G: windows of context+1 tokens per optimizer step, all processes
    accumulation: int  # micro-batches per process per step
    steps: int
    warmup_steps: int

    @property
    def tokens_per_step(self) -> int:
        return self.windows_per_step * self.context


def plan(config: TrainConfig, world: int) -> Plan:
    context = config.context or get_preset(config.preset).context
    per_micro = config.micro_batch * world
    accumulation = max(1, round(config.batch_tokens / (context * per_micro)))
    windows = accumulation * per_micro
    steps = max(1, math.ceil(config.tokens / (windows * context)))
    # The paper's 175 warmup steps, but never more than a quarter of a short run.
    warmup = min(config.warmup_steps, max(1, steps // 4))
    return Plan(context, windows, accumulation, steps, warmup)


def learning_rate(config: TrainConfig, step: int, warmup: int, total: int) -> float:
    """Linear warmup to the peak over `warmup` steps, then cosine decay to min_lr_ratio·peak."""
    if step < warmup:
        return config.lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    floor = config.lr * config.min_lr_ratio
    return floor + (config.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


class TokenWindows:
    """Windows of `context + 1` tokens cut from a flat token array, in per-epoch permutations."""

    def __init__(self, path: Path, dtype: str, context: int, seed: int) -> None:
        import numpy as np

        self.tokens = np.memmap(path, dtype=dtype, mode="r")
        self.context, self.seed = context, seed
        self.count = (len(self.tokens) - 1) // context
        if self.count < 1:
            raise InputError(
                f"{path}: {len(self.tokens)} tokens, fewer than one window of {context + 1}"
            )
        self._epoch, self._order = -1, np.arange(0)

    def window(self, index: int) -> Any:
        import numpy as np

        epoch, i = divmod(index, self.count)
        if epoch != self._epoch:
            self._order = np.random.default_rng([self.seed, epoch]).permutation(self.count)
            self._epoch = epoch
        start = int(self._order[i]) * self.context
        return self.tokens[start : start + self.context + 1]

    def batch(self, indices: range | list[int], *, in_order: bool = False) -> Any:
        """Windows `indices` as one int64 tensor: of the epochs' permutations, or with
        in_order the array's own windows in place (validation)."""
        import numpy as np
        import torch

        c = self.context
        pick = (lambda j: self.tokens[j * c : (j + 1) * c + 1]) if in_order else self.window
        rows = np.stack([pick(i) for i in indices]).astype(np.int64)
        return torch.from_numpy(rows)


@dataclass
class Runtime:
    """Where and how this process trains: not part of the run's identity."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: Any = None
    autocast: Any = None  # torch dtype or None

    @property
    def main(self) -> bool:
        return self.rank == 0


def train(
    config: TrainConfig | None,
    out: str | Path,
    *,
    resume: bool = False,
    device: str = "auto",
    compile: bool = False,
    time_budget: float | None = None,
    stop_after: int | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Train (or, with resume=True, continue training) the model in `out`; return the summary.

    With resume, `config` may be None (the saved one is used) or must describe the same run.
    `time_budget` (seconds) shortens the schedule, once the speed of the first steps is known,
    so that the run ends, decayed and saved, within the budget; `stop_after` stops (with a
    checkpoint) after that many steps of this invocation, for staged runs.
    """
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    out = Path(out)
    config = _resolve_config(config, out, resume)
    rt = _runtime(device)
    try:
        return _train(config, out, rt, resume, compile, time_budget, stop_after, on_row)
    finally:
        if rt.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def saved_config(out: str | Path) -> TrainConfig:
    """The settings of the run whose checkpoint is in `out`."""
    path = _find_checkpoint(Path(out))
    if path is None:
        raise InputError(f"{out}: no checkpoint to resume from")
    where = str(path / CONFIG_FILE)
    return TrainConfig.from_dict(json.loads((path / CONFIG_FILE).read_text()), where=where)


def resume_config(out: str | Path, given: dict[str, Any] | None = None) -> TrainConfig:
    """The settings of the run in `out`, once those `given` that make a run what it is
    (`IDENTITY`: None means not given) agree with the checkpoint's."""
    saved = saved_config(out)
    theirs, ours = asdict(saved), given or {}
    differ = [k for k in IDENTITY if ours.get(k) is not None and ours[k] != theirs[k]]
    if differ:
        raise InputError(
            f"{out}: the checkpoint was trained with different settings "
            + ", ".join(f"{k}={theirs[k]!r} (asked {ours[k]!r})" for k in differ)
        )
    return saved


def _resolve_config(config: TrainConfig | None, out: Path, resume: bool) -> TrainConfig:
    if not resume:
        if config is None:
            raise InputError("a training run needs its data, tokenizer, preset and token budget")
        if _find_checkpoint(out) is not None:
            raise InputError(
                f"{out} already holds a checkpoint: continue it with --resume {out}, "
                "or choose a new --out"
            )
        return config
    return resume_config(out, asdict(config) if config is not None else None)


def _runtime(device: str) -> Runtime:
    import torch

    rt = Runtime()
    rt.world = int(os.environ.get("WORLD_SIZE", "1"))
    rt.rank = int(os.environ.get("RANK", "0"))
    rt.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA device is available")
        rt.device = torch.device("cuda", rt.local_rank)
        torch.cuda.set_device(rt.device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    elif device == "cpu":
        rt.device = torch.device("cpu")
        threads = max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
        torch.set_num_threads(threads)
    else:
        raise InputError(f"--device must be auto, cpu or cuda, got {device!r}")
    if rt.world > 1:
        backend = "nccl" if rt.device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend=backend)
    return rt


def _autocast_dtype(requested: str, device: Any) -> Any:
    import torch

    if requested == "fp32":
        return None
    fast = torch.cuda.is_bf16_supported() if device.type == "cuda" else _cpu_has_bf16()
    if requested == "bf16" or fast:
        return torch.bfloat16
    return None


def _cpu_has_bf16() -> bool:
    # Autocast to bf16 pays off on CPUs with bf16 dot products (AVX512-BF16 or AMX).
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _data(config: TrainConfig) -> tuple[dict[str, Any], Any]:
    from passk.training.tokenizer import load_tokenizer

    data = Path(config.data)
    stats = read_stats(data)
    tok = load_tokenizer(config.tokenizer)
    vocab = tok.get_vocab_size()
    if stats.get("vocab_size", 0) > vocab:
        raise InputError(
            f"{data} was tokenized with a vocabulary of {stats['vocab_size']} ids, but the "
            f"tokenizer {config.tokenizer} has {vocab}: use the tokenizer that made the data"
        )
    for split in ("train", "valid"):
        path = data / f"{split}.bin"
        if split == "train" and not path.is_file():
            raise InputError(f"{data}: no train.bin")
        if path.is_file() and path.stat().st_size:
            import numpy as np

            top = int(np.memmap(path, dtype=stats["dtype"], mode="r").max())
            if top >= vocab:
                raise InputError(
                    f"{path}: token id {top} does not fit the tokenizer's {vocab} ids: "
                    "the data and the tokenizer do not match"
                )
    return stats, tok


@dataclass
class _Session:
    """One invocation of training: the model, its optimizer and data, and where it stands."""

    config: TrainConfig
    out: Path
    rt: Runtime
    plan: Plan
    tok: Any
    model: Any  # what the steps call: the raw model, compiled or wrapped in DDP
    raw: Any  # the model itself, for saving
    optimizer: Any
    train: TokenWindows
    valid: TokenWindows | None
    meta: dict[str, Any]
    step: int = 0
    total_steps: int = 0
    tokens: int = 0
    ran: int = 0  # steps this invocation
    last_valid: float | None = None
    log: IO[str] | None = None
    on_row: Callable[[dict[str, Any]], None] | None = None

    def emit(self, row: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.write(json.dumps(row) + "\n")
            self.log.flush()
        if self.on_row and self.rt.main:
            self.on_row(row)


def _train(
    config: TrainConfig,
    out: Path,
    rt: Runtime,
    resume: bool,
    compile: bool,
    time_budget: float | None,
    stop_after: int | None,
    on_row: Callable[[dict[str, Any]], None] | None,
) -> dict[str, Any]:
    started = time.monotonic()
    session = _open_session(config, out, rt, resume, compile, on_row)
    try:
        _loop(session, started, time_budget, stop_after)
    finally:
        if session.log is not None:
            session.log.close()
    return _finish(session, started)


def _open_session(
    config: TrainConfig,
    out: Path,
    rt: Runtime,
    resume: bool,
    compile: bool,
    on_row: Callable[[dict[str, Any]], None] | None,
) -> _Session:
    """Data, model and optimizer, restored from the checkpoint when resuming; the log opened
    and the start announced."""
    import torch

    stats, tok = _data(config)
    the_plan = plan(config, rt.world)
    rt.autocast = _autocast_dtype(config.dtype, rt.device)
    train_windows, valid_windows = _windows(config, stats["dtype"], the_plan.context)
    model, raw = _build_model(config, tok, the_plan, rt, out if resume else None)
    optimizer = _optimizer(raw, config, rt)
    step, total_steps, tokens = 0, the_plan.steps, 0
    if resume:
        state = _load_state(out, optimizer, rt)
        step, total_steps, tokens = state["step"], state["total_steps"], state["tokens"]
        if rt.main:
            _truncate_log(out / LOG_FILE, step)
    elif rt.main:
        _start_log(out, config)
    if compile:
        model = torch.compile(model)
    meta = {
        "preset": config.preset,
        **count_parameters(raw),
        "context": the_plan.context,
        "tokens_per_step": the_plan.tokens_per_step,
        "accumulation": the_plan.accumulation,
        "world_size": rt.world,
        "device": str(rt.device),
        "autocast": str(rt.autocast).replace("torch.", "") if rt.autocast else "fp32",
        "start_step": step,
        "total_steps": total_steps,
    }
    log = open(out / LOG_FILE, "a", encoding="utf-8") if rt.main else None  # noqa: SIM115
    session = _Session(
        config, out, rt, the_plan, tok, model, raw, optimizer, train_windows, valid_windows,
        meta, step, total_steps, tokens, log=log, on_row=on_row,
    )  # fmt: skip
    if on_row and rt.main:
        on_row({"event": "start", **meta})
    return session


def _windows(
    config: TrainConfig, dtype: str, context: int
) -> tuple[TokenWindows, TokenWindows | None]:
    """The training windows, and the validation ones where the data has a valid split."""
    train = TokenWindows(Path(config.data) / "train.bin", dtype, context, config.seed)
    valid_path = Path(config.data) / "valid.bin"
    if not (valid_path.is_file() and valid_path.stat().st_size > context + 1):
        return train, None
    return train, TokenWindows(valid_path, dtype, context, config.seed)


def _loop(s: _Session, started: float, time_budget: float | None, stop_after: int | None) -> None:
    """Steps until the schedule ends, a stop is asked for, or `stop_after` steps ran; a
    checkpoint every checkpoint_interval steps and whenever it stops."""
    stop = _StopFlag()
    timed_from: tuple[float, int] | None = None
    with stop.installed():
        while s.step < s.total_steps:
            _one_step(s)
            # The time budget: after a few steps (compilation and warm-up excluded) the step
            # time is known, and the schedule's end is pulled in to fit.
            if time_budget is not None and s.ran == 3:
                timed_from = (time.monotonic(), s.step)
            if time_budget is not None and timed_from and s.step - timed_from[1] == 10:
                s.total_steps = _fit_budget(
                    time_budget, started, timed_from, s.step, s.total_steps, s.config, s.plan
                )
            if s.step % s.config.eval_interval == 0 or s.step == s.total_steps:
                _validation(s)
            done = s.step == s.total_steps
            stopping = stop.requested or (stop_after is not None and s.ran >= stop_after)
            if done or stopping or s.step % s.config.checkpoint_interval == 0:
                _save_checkpoint(
                    s.raw, s.tok, s.config, s.optimizer, s.out, s.rt, s.step, s.total_steps,
                    s.tokens,
                )  # fmt: skip
            if stopping and not done:
                if stop.requested:
                    raise Interrupted(
                        f"training stopped at step {s.step} of {s.total_steps}; "
                        f"checkpoint saved: continue with --resume {s.out}"
                    )
                return


def _one_step(s: _Session) -> None:
    t0 = time.perf_counter()
    loss, grad_norm = _step(
        s.model, s.optimizer, s.train, s.plan, s.config, s.rt, s.step, s.total_steps
    )
    s.step += 1
    s.ran += 1
    s.tokens += s.plan.tokens_per_step
    dt = time.perf_counter() - t0
    s.emit(
        {
            "step": s.step,
            "tokens": s.tokens,
            "loss": loss,
            "lr": learning_rate(s.config, s.step - 1, s.plan.warmup_steps, s.total_steps),
            "grad_norm": grad_norm,
            "step_s": round(dt, 4),
            "tokens_per_s": round(s.plan.tokens_per_step / dt, 1),
            "total_steps": s.total_steps,
        }
    )


def _validation(s: _Session) -> None:
    s.last_valid = _validate(s.model, s.valid, s.config, s.plan, s.rt)
    if s.last_valid is not None:
        s.emit({"step": s.step, "tokens": s.tokens, "valid_loss": s.last_valid})


def _finish(s: _Session, started: float) -> dict[str, Any]:
    """The run's summary; when the schedule is done, the final model and its plot as well."""
    elapsed = time.monotonic() - started
    summary = {
        **s.meta,
        "config": asdict(s.config),
        "steps": s.step,
        "total_steps": s.total_steps,
        "complete": s.step == s.total_steps,
        "tokens": s.tokens,
        "epochs": round(s.tokens / (s.train.count * s.plan.context), 3),
        "train_tokens_available": len(s.train.tokens),
        "final_train_loss": _recent_train_loss(s.out / LOG_FILE) if s.rt.main else None,
        "final_valid_loss": s.last_valid,
        "wall_s": round(elapsed, 1),
        "steps_this_run": s.ran,
        "tokens_per_s_this_run": round(s.ran * s.plan.tokens_per_step / max(elapsed, 1e-9), 1),
    }
    if s.step == s.total_steps and s.rt.main:
        _export(s.raw, s.tok, s.out, s.config)
        summary["plot"] = _plot(s.out)
        write_text_atomic(s.out / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    return summary


def _fit_budget(
    budget: float,
    started: float,
    timed_from: tuple[float, int],
    step: int,
    total_steps: int,
    config: TrainConfig,
    the_plan: Plan,
) -> int:
    now = time.monotonic()
    per_step = (now - timed_from[0]) / (step - timed_from[1])
    left = budget - (now - started)
    # Keep a tenth of the budget for validations and checkpoints.
    fits = step + int(max(0.0, 0.9 * left) / per_step)
    return max(step + 1, min(total_steps, fits))


def _build_model(
    config: TrainConfig, tok: Any, the_plan: Plan, rt: Runtime, resume_from: Path | None
) -> tuple[Any, Any]:
    import torch
    from transformers import LlamaForCausalLM

    from passk.training.tokenizer import BOS, EOS, PAD

    preset = get_preset(config.preset)
    hf_config = llama_config(
        preset,
        tok.get_vocab_size(),
        bos_token_id=tok.token_to_id(BOS),
        eos_token_id=tok.token_to_id(EOS),
        pad_token_id=tok.token_to_id(PAD),
        context=the_plan.context,
    )
    if resume_from is not None:
        path = _find_checkpoint(resume_from)
        assert path is not None
        saved = json.loads((path / "config.json").read_text())
        mine = hf_config.to_dict()
        keys = (
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "vocab_size",
        )
        if any(saved.get(k) != mine.get(k) for k in keys):
            raise InputError(f"{path}: the checkpoint's model is not a {config.preset} model")
        raw = LlamaForCausalLM.from_pretrained(
            str(path), dtype=torch.float32, local_files_only=True
        )
    else:
        torch.manual_seed(config.seed)
        hf_config.dtype = torch.float32
        raw = LlamaForCausalLM(hf_config)
    raw.to(rt.device)
    raw.train()
    model: Any = raw
    if rt.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        ids = [rt.device.index] if rt.device.type == "cuda" else None
        model = DistributedDataParallel(raw, device_ids=ids)
    return model, raw


def _optimizer(raw: Any, config: TrainConfig, rt: Runtime) -> Any:
    import torch

    decay = [p for p in raw.parameters() if p.requires_grad and p.dim() >= 2]
    rest = [p for p in raw.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    extra = {"fused": True} if rt.device.type == "cuda" else {}
    return torch.optim.AdamW(
        groups, lr=config.lr, betas=(config.beta1, config.beta2), eps=config.eps, **extra
    )


def _step(
    model: Any,
    optimizer: Any,
    windows: TokenWindows,
    the_plan: Plan,
    config: TrainConfig,
    rt: Runtime,
    step: int,
    total_steps: int,
) -> tuple[float, float]:
    import torch

    lr = learning_rate(config, step, the_plan.warmup_steps, total_steps)
    for group in optimizer.param_groups:
        group["lr"] = lr
    mb = config.micro_batch
    base = step * the_plan.windows_per_step
    loss_sum = torch.zeros((), device=rt.device)
    for m in range(the_plan.accumulation):
        first = base + (m * rt.world + rt.rank) * mb
        batch = windows.batch(range(first, first + mb)).to(rt.device, non_blocking=True)
        last = m == the_plan.accumulation - 1
        sync = contextlib.nullcontext() if last or rt.world == 1 else model.no_sync()
        with sync:
            loss = _loss(model, batch, rt)
            (loss / the_plan.accumulation).backward()
        loss_sum += loss.detach()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if rt.world > 1:
        torch.distributed.all_reduce(loss_sum)
    mean = loss_sum.item() / (the_plan.accumulation * rt.world)
    return mean, float(grad_norm)


def _loss(model: Any, batch: Any, rt: Runtime) -> Any:
    import torch
    import torch.nn.functional as F

    inputs, targets = batch[:, :-1], batch[:, 1:]
    autocast = (
        torch.autocast(rt.device.type, dtype=rt.autocast)
        if rt.autocast is not None
        else contextlib.nullcontext()
    )
    with autocast:
        logits = model(input_ids=inputs, use_cache=False).logits
    return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1))


def _validate(
    model: Any, windows: TokenWindows | None, config: TrainConfig, the_plan: Plan, rt: Runtime
) -> float | None:
    """Mean loss over the first eval_tokens of the validation array, in order (deterministic)."""
    import torch

    if windows is None:
        return None
    count = max(1, min(windows.count, config.eval_tokens // the_plan.context))
    total = torch.zeros(2, device=rt.device)
    model.eval()
    with torch.no_grad():
        mine = list(range(rt.rank, count, rt.world))
        for i in range(0, len(mine), config.micro_batch):
            rows = mine[i : i + config.micro_batch]
            batch = windows.batch(rows, in_order=True).to(rt.device)
            loss = _loss(model, batch, rt)
            total += torch.stack(
                [loss.detach() * len(rows), torch.tensor(float(len(rows)), device=rt.device)]
            )
    model.train()
    if rt.world > 1:
        torch.distributed.all_reduce(total)
    return round(float(total[0] / total[1]), 6)


class _StopFlag:
    """SIGINT/SIGTERM during training set a flag that the loop checks between steps, so that
    a stop never lands in the middle of an optimizer update."""

    requested = False

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        import threading

        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, frame: Any) -> None:
            self.requested = True

        old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)


# Checkpoints ------------------------------------------------------------------------------


def _find_checkpoint(out: Path) -> Path | None:
    """The latest complete checkpoint, recovering from a crash in the middle of a swap."""
    return complete_directory(
        out / CHECKPOINT,
        lambda path: (path / STATE_FILE).is_file() and (path / CONFIG_FILE).is_file(),
    )


def _save_checkpoint(
    raw: Any,
    tok: Any,
    config: TrainConfig,
    optimizer: Any,
    out: Path,
    rt: Runtime,
    step: int,
    total_steps: int,
    tokens: int,
) -> None:
    import numpy as np
    import torch

    if rt.main:
        SafetensorError = _safetensor_error()
        tmp = out / f".{CHECKPOINT}.tmp-{os.getpid()}"
        state = {
            "step": step,
            "total_steps": total_steps,
            "tokens": tokens,
            "optimizer": optimizer.state_dict(),
            "rng": {
                "python": random.getstate(),
                "numpy": np.random.get_state(),
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
        }
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            _write_model_dir(raw, tok, config, tmp, dtype=None)
            torch.save(state, tmp / STATE_FILE)
            _fsync_dir(tmp)
            replace_directory(tmp, out / CHECKPOINT)
        except (OSError, RuntimeError, SafetensorError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise OutputError(
                f"{out}: cannot write the checkpoint of step {step}: {_write_error(e)}; "
                "the previous checkpoint is left as it was"
            ) from None
    if rt.world > 1:
        torch.distributed.barrier()


def _load_state(out: Path, optimizer: Any, rt: Runtime) -> dict[str, Any]:
    import numpy as np
    import torch

    path = _find_checkpoint(out)
    assert path is not None
    state = torch.load(path / STATE_FILE, map_location=rt.device, weights_only=False)
    optimizer.load_state_dict(state["optimizer"])
    rng = state["rng"]
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])
    torch.set_rng_state(rng["torch"].cpu())
    if rng.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.cpu() for s in rng["cuda"]])
    return state


def _write_model_dir(raw: Any, tok: Any, config: TrainConfig, path: Path, dtype: Any) -> None:
    import torch

    path.mkdir(parents=True, exist_ok=True)
    model = raw
    if dtype is not None and dtype != torch.float32:
        import copy

        model = copy.deepcopy(raw).to(dtype)
        model.config.dtype = dtype
    model.save_pretrained(str(path), safe_serialization=True)
    for name in _TOKENIZER_FILES:
        src = Path(config.tokenizer) / name
        if src.is_file():
            shutil.copyfile(src, path / name)
    (path / CONFIG_FILE).write_text(json.dumps(asdict(config), indent=2) + "\n")


def _fsync_dir(path: Path) -> None:
    for f in path.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _export(raw: Any, tok: Any, out: Path, config: TrainConfig) -> None:
    """The final model as out's own files: a Hugging Face model directory."""
    import torch

    SafetensorError = _safetensor_error()
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    tmp = out / f".export.tmp-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        _write_model_dir(raw, tok, config, tmp, dtypes[config.export_dtype])
        for f in tmp.iterdir():
            os.replace(f, out / f.name)
        tmp.rmdir()
    except (OSError, RuntimeError, SafetensorError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"{out}: cannot write the final model: {_write_error(e)}") from None


def _safetensor_error() -> type[Exception]:
    import safetensors

    return getattr(safetensors, "SafetensorError", RuntimeError)


def _write_error(e: Exception) -> str:
    # A full disk reaches us as OSError from Python's own writes, but as SafetensorError
    # from safetensors and as RuntimeError from torch.save.
    return getattr(e, "strerror", None) or (str(e).splitlines() or [type(e).__name__])[0]


# Log and plot ------------------------------------------------------------------------------


def _start_log(out: Path, config: TrainConfig) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / LOG_FILE).write_text("")
    except OSError as e:
        raise OutputError(f"{out}: cannot write: {e.strerror}") from None


def read_log(path: Path) -> list[dict[str, Any]]:
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            with contextlib.suppress(json.JSONDecodeError):
                rows.append(json.loads(line))
    return rows


def _truncate_log(path: Path, step: int) -> None:
    # Rows past the checkpoint belong to steps that will run again.
    rows = [r for r in read_log(path) if r.get("step", 0) <= step]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def _recent_train_loss(path: Path, last: int = 20) -> float | None:
    losses = [r["loss"] for r in read_log(path) if "loss" in r]
    if not losses:
        return None
    tail = losses[-last:]
    return round(sum(tail) / len(tail), 6)


def _plot(out: Path) -> str | None:
    """loss_curve.png: training loss (and validation loss) against tokens seen."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = read_log(out / LOG_FILE)
    train = [(r["tokens"], r["loss"]) for r in rows if "loss" in r]
    valid = [(r["tokens"], r["valid_loss"]) for r in rows if "valid_loss" in r]
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    if train:
        ax.plot(*zip(*train, strict=True), lw=0.8, label="train loss")
    if valid:
        ax.plot(*zip(*valid, strict=True), "o-", ms=3, label="validation loss")
    ax.set_xlabel("tokens seen")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.set_title(f"{out.name}: training loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path = out / PLOT_FILE
    fig.savefig(path)
    plt.close(fig)
    return str(path)
