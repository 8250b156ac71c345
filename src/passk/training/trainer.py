"""Training a code model: the recipe of Chen et al. (2021), section 3, and the loop that
pretraining (`train`, here) and fine-tuning (`passk.training.finetune`) share.

AdamW (β1 0.9, β2 0.95, ε 1e-8, weight decay 0.1 on matrices only), a linear warmup (the paper
uses 175 steps) then cosine decay to a tenth of the peak, gradient clipping at 1.0, gradient
accumulation to a batch fixed in examples, bf16 autocast where the device has fast bf16.

A run is a `Job`: its examples, its starting model, its schedule (`Plan`) and whether it keeps
the best validation's weights. Pretraining's examples are windows of `context + 1` tokens cut
from a token array, every position a target; fine-tuning's are problems, left-padded, with the
loss on the solution only (each `Batch` carries labels that are `IGNORE` where no loss is
taken). The loss of a step is the mean over the step's target tokens, whichever micro-batch or
process holds them.

Data order is a function of the step alone: each epoch visits the examples in a permutation
seeded by (seed, epoch), and optimizer step `s` takes global examples `s*G .. s*G+G-1`, sorted
by length (so that micro-batches of similar lengths need little padding). So the data position
needs no bookkeeping beyond the step, a resumed run sees exactly the examples an uninterrupted
run would, and data-parallel processes split a step's examples between them (micro-batch `m`
of rank `r` is global micro-batch `m*world + r`): two processes with one micro-batch each
compute the same step as one process accumulating two.

The output directory is a Hugging Face model directory once training ends (config.json,
model.safetensors, tokenizer files). While training, `checkpoint/` inside it holds the latest
checkpoint, itself a loadable model directory plus `trainer_state.pt` (optimizer, schedule,
step, RNG states; for a run that keeps its best validation, that validation's loss and, in
`best.safetensors`, its weights). A new checkpoint is written beside it and swapped in by
renames, so a crash or a full disk leaves the last good one intact. `train_log.jsonl` has one
row per step and one per validation; `summary.json` and `loss_curve.png` are written at the end.
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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Any, ClassVar, Protocol, TypeVar

from passk.errors import InputError, Interrupted, OutputError
from passk.records.files import complete_directory, replace_directory, write_text_atomic
from passk.training.presets import count_parameters, get_preset, llama_config
from passk.training.tokenized import read_stats

CHECKPOINT = "checkpoint"
STATE_FILE = "trainer_state.pt"
BEST_FILE = "best.safetensors"  # in a checkpoint: the weights of the best validation so far
CONFIG_FILE = "train_config.json"
LOG_FILE = "train_log.jsonl"
SUMMARY_FILE = "summary.json"
PLOT_FILE = "loss_curve.png"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
DTYPES = ("auto", "bf16", "fp32")
EXPORT_DTYPES = ("float32", "bfloat16")
# The settings that make a run what it is: given beside --resume, they must be the checkpoint's.
IDENTITY = ("preset", "data", "tokenizer", "tokens", "context", "seed")
IGNORE = -100  # the label of a position that takes no loss (cross_entropy's ignore_index)
C = TypeVar("C")


class Recipe(Protocol):
    """The settings the loop reads, which pretraining's and fine-tuning's configs both have
    (and save as JSON: both are dataclasses)."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    micro_batch: int
    warmup_steps: int
    min_lr_ratio: float
    weight_decay: float
    beta1: float
    beta2: float
    eps: float
    clip: float
    eval_interval: int
    checkpoint_interval: int
    seed: int
    dtype: str
    export_dtype: str


def check_whole_numbers(settings: Iterable[tuple[str, Any, int]]) -> None:
    """(flag, value, least allowed) for settings that must be whole numbers."""
    for flag, value, low in settings:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(f"{flag} must be a whole number of at least {low}, got {value!r}")


def check_numbers(settings: Iterable[tuple[str, Any, Callable[[float], bool], str]]) -> None:
    """(flag, value, test, what the test asks) for settings that must be finite numbers."""
    for flag, number, ok, what in settings:
        real = isinstance(number, int | float) and not isinstance(number, bool)
        if not (real and math.isfinite(number) and ok(number)):
            raise InputError(f"{flag} must be {what}, got {number!r}")


def check_recipe(config: Recipe) -> None:
    """The checks of the settings every run has: batching, schedule, optimizer, dtypes."""
    check_whole_numbers(
        (
            ("--micro-batch", config.micro_batch, 1),
            ("--warmup-steps", config.warmup_steps, 0),
            ("--eval-interval", config.eval_interval, 1),
            ("--checkpoint-interval", config.checkpoint_interval, 1),
        )
    )
    check_numbers(
        (
            ("--min-lr-ratio", config.min_lr_ratio, lambda v: 0 <= v <= 1, "in [0, 1]"),
            ("--weight-decay", config.weight_decay, lambda v: v >= 0, "0 or more"),
            ("beta1", config.beta1, lambda v: 0 <= v < 1, "in [0, 1)"),
            ("beta2", config.beta2, lambda v: 0 <= v < 1, "in [0, 1)"),
            ("eps", config.eps, lambda v: v > 0, "positive"),
            ("--clip", config.clip, lambda v: v > 0, "positive"),
        )
    )
    if config.dtype not in DTYPES:
        raise InputError(f"--dtype must be one of {', '.join(DTYPES)}, got {config.dtype!r}")
    if config.export_dtype not in EXPORT_DTYPES:
        raise InputError(
            f"--export-dtype must be one of {', '.join(EXPORT_DTYPES)}, got {config.export_dtype!r}"
        )


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
        check_whole_numbers(
            (
                ("--tokens", self.tokens, 1),
                ("--batch-tokens", self.batch_tokens, 1),
                ("--eval-tokens", self.eval_tokens, 1),
            )
        )
        if self.context is not None and (not isinstance(self.context, int) or self.context < 2):
            raise InputError(f"--context must be at least 2, got {self.context!r}")
        check_numbers((("--lr", self.lr, lambda v: v > 0, "positive"),))
        check_recipe(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any], *, where: str = "train config") -> TrainConfig:
        """The config saved as JSON; a key it does not know is an error, not dropped."""
        return config_from_dict(cls, row, where)


def config_from_dict(cls: type[C], row: dict[str, Any], where: str) -> C:
    """A config dataclass from its saved JSON; a key it does not know is an error."""
    unknown = sorted(set(row) - {f.name for f in fields(cls)})  # type: ignore[arg-type]
    if unknown:
        raise InputError(f"{where}: unknown settings {', '.join(unknown)}")
    return cls(**row)


@dataclass(frozen=True)
class Plan:
    """The step arithmetic and learning-rate schedule of a run on a given number of processes."""

    context: int
    examples_per_step: int  # G: examples per optimizer step, over all processes
    accumulation: int  # micro-batches per process per step
    steps: int
    warmup_steps: int
    lr: float  # the peak
    min_lr_ratio: float

    @property
    def tokens_per_step(self) -> int:
        """Pretraining's: every example is a window of `context` predicted tokens."""
        return self.examples_per_step * self.context

    def learning_rate(self, step: int, total: int) -> float:
        """Linear warmup to the peak over warmup_steps, then cosine decay to min_lr_ratio·peak
        at step `total`."""
        if step < self.warmup_steps:
            return self.lr * (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / max(1, total - self.warmup_steps))
        floor = self.lr * self.min_lr_ratio
        return floor + (self.lr - floor) * 0.5 * (1 + math.cos(math.pi * progress))


def batching(wanted: float, micro_batch: int, world: int) -> tuple[int, int]:
    """(accumulation, examples per step): the micro-batches per process that come nearest to
    `wanted` examples a step, at least one."""
    per_micro = micro_batch * world
    accumulation = max(1, round(wanted / per_micro))
    return accumulation, accumulation * per_micro


def warmup_for(config: Recipe, steps: int) -> int:
    """The paper's 175 warmup steps (config.warmup_steps), but never more than a quarter of a
    short run."""
    return min(config.warmup_steps, max(1, steps // 4))


def plan(config: TrainConfig, world: int) -> Plan:
    context = config.context or get_preset(config.preset).context
    accumulation, windows = batching(config.batch_tokens / context, config.micro_batch, world)
    steps = max(1, math.ceil(config.tokens / (windows * context)))
    return Plan(
        context, windows, accumulation, steps, warmup_for(config, steps), config.lr,
        config.min_lr_ratio,
    )  # fmt: skip


@dataclass
class Batch:
    """The rows of one forward pass, and at each position the token to predict."""

    input_ids: Any  # [rows, length]
    labels: Any  # [rows, length]: the next token, or IGNORE where no loss is taken
    attention_mask: Any = None  # [rows, length]: 1 on tokens, 0 on padding; None: no padding
    position_ids: Any = None  # [rows, length]: each token's place in its own example

    def to(self, device: Any) -> Batch:
        parts = (self.input_ids, self.labels, self.attention_mask, self.position_ids)
        return Batch(*(None if t is None else t.to(device, non_blocking=True) for t in parts))


class Examples(Protocol):
    """A training or validation set as the loop sees it: `count` examples, by index."""

    count: int

    def sizes(self, index: int) -> tuple[int, int]:
        """(positions fed to the model, positions that take a loss) of one example."""
        ...

    def batch(self, indices: Sequence[int]) -> Batch:
        """The examples `indices` as one batch."""
        ...


class EpochOrder:
    """Global example number -> example index: each epoch, a permutation of the `count`
    examples seeded by (seed, epoch)."""

    def __init__(self, count: int, seed: int) -> None:
        import numpy as np

        self.count, self.seed = count, seed
        self._epoch, self._order = -1, np.arange(0)

    def __call__(self, number: int) -> int:
        import numpy as np

        epoch, i = divmod(number, self.count)
        if epoch != self._epoch:
            self._order = np.random.default_rng([self.seed, epoch]).permutation(self.count)
            self._epoch = epoch
        return int(self._order[i])


class TokenWindows:
    """Pretraining's examples: window `i` is tokens `i*context .. (i+1)*context` of a flat
    token array (context + 1 tokens, the last one overlapping the next window's first)."""

    def __init__(self, path: Path, dtype: str, context: int) -> None:
        import numpy as np

        self.tokens = np.memmap(path, dtype=dtype, mode="r")
        self.context = context
        self.count = (len(self.tokens) - 1) // context
        if self.count < 1:
            raise InputError(
                f"{path}: {len(self.tokens)} tokens, fewer than one window of {context + 1}"
            )

    def sizes(self, index: int) -> tuple[int, int]:
        return self.context, self.context

    def batch(self, indices: Sequence[int]) -> Batch:
        import numpy as np
        import torch

        c = self.context
        rows = np.stack([self.tokens[i * c : (i + 1) * c + 1] for i in indices]).astype(np.int64)
        windows = torch.from_numpy(rows)  # [rows, context + 1]
        return Batch(windows[:, :-1], windows[:, 1:])


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
    out = Path(out)
    resolved = _resolve_config(config, out, resume)
    return run(
        lambda rt: pretraining_job(resolved, rt),
        out,
        resume=resume,
        device=device,
        compile=compile,
        time_budget=time_budget,
        stop_after=stop_after,
        on_row=on_row,
    )


@dataclass
class Job:
    """What a run trains and keeps: `train` and fine-tuning each describe theirs, and `run`
    drives it through the one loop."""

    config: Recipe  # saved in every model directory written, as config_file
    config_file: str
    plan: Plan
    train: Examples
    valid: Examples | None
    valid_indices: Sequence[int]  # the validation examples that each validation runs over
    # The model in float32 on the CPU: loaded from a checkpoint directory, or (None) the start.
    model: Callable[[Path | None], Any]
    tokenizer_dir: Path  # whose tokenizer files go into every model directory written
    meta: dict[str, Any]  # what the start row and the summary say about the run
    # Stop after this many validations without a new best, and export the best one's weights
    # rather than the last; None: run the whole schedule and export its end.
    patience: int | None = None
    final_files: Sequence[Path] = ()  # copied into the final model directory as they are


def run(
    make_job: Callable[[Runtime], Job],
    out: str | Path,
    *,
    resume: bool = False,
    device: str = "auto",
    compile: bool = False,
    time_budget: float | None = None,
    stop_after: int | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the job that `make_job` describes for this process (see `train` for the options);
    return the summary."""
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    out = Path(out)
    rt = _runtime(device)
    try:
        started = time.monotonic()
        session = _open_session(make_job(rt), out, rt, resume, compile, on_row)
        try:
            _loop(session, started, time_budget, stop_after)
        finally:
            if session.log is not None:
                session.log.close()
        return _finish(session, started)
    finally:
        if rt.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def saved_config(out: str | Path) -> TrainConfig:
    """The settings of the run whose checkpoint is in `out`."""
    row, where = saved_settings(out, CONFIG_FILE)
    return TrainConfig.from_dict(row, where=where)


def saved_settings(out: str | Path, config_file: str) -> tuple[dict[str, Any], str]:
    """The saved settings of the run whose checkpoint is in `out`, and the file they are in."""
    path = _find_checkpoint(Path(out), config_file)
    if path is None:
        raise InputError(f"{out}: no checkpoint to resume from")
    return json.loads((path / config_file).read_text()), str(path / config_file)


def resume_config(out: str | Path, given: dict[str, Any] | None = None) -> TrainConfig:
    """The settings of the run in `out`, once those `given` that make a run what it is
    (`IDENTITY`: None means not given) agree with the checkpoint's."""
    saved = saved_config(out)
    check_same_run(out, asdict(saved), given or {}, IDENTITY)
    return saved


def check_same_run(
    out: str | Path, saved: dict[str, Any], given: dict[str, Any], identity: Sequence[str]
) -> None:
    """Refuse settings given beside --resume (None: not given) that differ from the saved ones."""
    differ = [k for k in identity if given.get(k) is not None and given[k] != saved[k]]
    if differ:
        raise InputError(
            f"{out}: the checkpoint was trained with different settings "
            + ", ".join(f"{k}={saved[k]!r} (asked {given[k]!r})" for k in differ)
        )


def check_new_run(out: Path) -> None:
    """Refuse to start a run over another run's checkpoint (of any kind)."""
    if complete_directory(out / CHECKPOINT, lambda path: (path / STATE_FILE).is_file()):
        raise InputError(
            f"{out} already holds a checkpoint: continue it with --resume {out}, "
            "or choose a new --out"
        )


def _resolve_config(config: TrainConfig | None, out: Path, resume: bool) -> TrainConfig:
    if not resume:
        if config is None:
            raise InputError("a training run needs its data, tokenizer, preset and token budget")
        check_new_run(out)
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


# Pretraining's job ---------------------------------------------------------------------------


def pretraining_job(config: TrainConfig, rt: Runtime) -> Job:
    """Pretraining: windows of the tokenized corpus, a model of the preset built from seed."""
    stats, tok = _data(config)
    the_plan = plan(config, rt.world)
    train_windows, valid_windows = _windows(config, stats["dtype"], the_plan.context)
    valid_indices: Sequence[int] = ()
    if valid_windows is not None:
        valid_indices = range(
            max(1, min(valid_windows.count, config.eval_tokens // the_plan.context))
        )
    return Job(
        config=config,
        config_file=CONFIG_FILE,
        plan=the_plan,
        train=train_windows,
        valid=valid_windows,
        valid_indices=valid_indices,
        model=lambda checkpoint: _pretraining_model(config, tok, the_plan, checkpoint),
        tokenizer_dir=Path(config.tokenizer),
        meta={
            "preset": config.preset,
            "tokens_per_step": the_plan.tokens_per_step,
            "train_tokens_available": len(train_windows.tokens),
        },
    )


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


def _windows(
    config: TrainConfig, dtype: str, context: int
) -> tuple[TokenWindows, TokenWindows | None]:
    """The training windows, and the validation ones where the data has a valid split."""
    train = TokenWindows(Path(config.data) / "train.bin", dtype, context)
    valid_path = Path(config.data) / "valid.bin"
    if not (valid_path.is_file() and valid_path.stat().st_size > context + 1):
        return train, None
    return train, TokenWindows(valid_path, dtype, context)


def _pretraining_model(
    config: TrainConfig, tok: Any, the_plan: Plan, checkpoint: Path | None
) -> Any:
    """A model of the preset: initialised from the seed, or the checkpoint's (which must be a
    model of that preset)."""
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
    if checkpoint is not None:
        saved = json.loads((checkpoint / "config.json").read_text())
        mine = hf_config.to_dict()
        keys = (
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "vocab_size",
        )
        if any(saved.get(k) != mine.get(k) for k in keys):
            raise InputError(f"{checkpoint}: the checkpoint's model is not a {config.preset} model")
        return LlamaForCausalLM.from_pretrained(
            str(checkpoint), dtype=torch.float32, local_files_only=True
        )
    torch.manual_seed(config.seed)
    hf_config.dtype = torch.float32
    return LlamaForCausalLM(hf_config)


# The loop ------------------------------------------------------------------------------------


@dataclass
class Best:
    """The best validation so far of a run that keeps it, and how many came after it."""

    loss: float
    step: int
    weights: dict[str, Any] | None  # a CPU copy, on the main process only
    since: int = 0  # validations since, none of them better


@dataclass
class _Session:
    """One invocation of training: the model, its optimizer and data, and where it stands."""

    job: Job
    out: Path
    rt: Runtime
    model: Any  # what the steps call: the raw model, compiled or wrapped in DDP
    raw: Any  # the model itself, for saving
    optimizer: Any
    order: EpochOrder
    meta: dict[str, Any]
    step: int = 0
    total_steps: int = 0
    tokens: int = 0
    ran: int = 0  # steps this invocation
    ran_tokens: int = 0  # tokens this invocation
    last_valid: float | None = None
    best: Best | None = None
    stopped_early: bool = False
    log: IO[str] | None = None
    on_row: Callable[[dict[str, Any]], None] | None = None

    @property
    def config(self) -> Recipe:
        return self.job.config

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps or self.stopped_early

    def emit(self, row: dict[str, Any]) -> None:
        if self.log is not None:
            self.log.write(json.dumps(row) + "\n")
            self.log.flush()
        if self.on_row and self.rt.main:
            self.on_row(row)


def _open_session(
    job: Job,
    out: Path,
    rt: Runtime,
    resume: bool,
    compile: bool,
    on_row: Callable[[dict[str, Any]], None] | None,
) -> _Session:
    """Model and optimizer, restored from the checkpoint when resuming; the log opened and the
    start announced."""
    import torch

    rt.autocast = _autocast_dtype(job.config.dtype, rt.device)
    checkpoint = _find_checkpoint(out, job.config_file) if resume else None
    if resume and checkpoint is None:
        raise InputError(f"{out}: no checkpoint to resume from")
    raw = job.model(checkpoint)
    model = _place(raw, rt)
    optimizer = _optimizer(raw, job.config, job.plan.lr, rt)
    session = _Session(
        job, out, rt, model, raw, optimizer, EpochOrder(job.train.count, job.config.seed), {},
        total_steps=job.plan.steps, on_row=on_row,
    )  # fmt: skip
    if checkpoint is not None:
        _restore(session, checkpoint)
        if rt.main:
            _truncate_log(out / LOG_FILE, session.step)
    elif rt.main:
        _start_log(out)
    if compile:
        session.model = torch.compile(model)
    session.meta = {
        **job.meta,
        **count_parameters(raw),
        "context": job.plan.context,
        "examples_per_step": job.plan.examples_per_step,
        "accumulation": job.plan.accumulation,
        "world_size": rt.world,
        "device": str(rt.device),
        "autocast": str(rt.autocast).replace("torch.", "") if rt.autocast else "fp32",
        "start_step": session.step,
        "total_steps": session.total_steps,
    }
    session.log = open(out / LOG_FILE, "a", encoding="utf-8") if rt.main else None  # noqa: SIM115
    if on_row and rt.main:
        on_row({"event": "start", **session.meta})
    return session


def _place(raw: Any, rt: Runtime) -> Any:
    """The model on this process's device in training mode; wrapped in DDP when data-parallel."""
    raw.to(rt.device)
    raw.train()
    if rt.world == 1:
        return raw
    from torch.nn.parallel import DistributedDataParallel

    ids = [rt.device.index] if rt.device.type == "cuda" else None
    return DistributedDataParallel(raw, device_ids=ids)


def _loop(s: _Session, started: float, time_budget: float | None, stop_after: int | None) -> None:
    """Steps until the schedule ends, the validation loss stops improving (a job with
    patience), a stop is asked for, or `stop_after` steps ran; a checkpoint every
    checkpoint_interval steps and whenever it stops."""
    stop = _StopFlag()
    timed_from: tuple[float, int] | None = None
    with stop.installed():
        while not s.done:
            _one_step(s)
            # The time budget: after a few steps (compilation and warm-up excluded) the step
            # time is known, and the schedule's end is pulled in to fit.
            if time_budget is not None and s.ran == 3:
                timed_from = (time.monotonic(), s.step)
            if time_budget is not None and timed_from and s.step - timed_from[1] == 10:
                s.total_steps = _fit_budget(time_budget, started, timed_from, s.step, s.total_steps)
            if s.step % s.config.eval_interval == 0 or s.step == s.total_steps:
                _validation(s)
            stopping = stop.requested or (stop_after is not None and s.ran >= stop_after)
            if s.done or stopping or s.step % s.config.checkpoint_interval == 0:
                _save_checkpoint(s)
            if stopping and not s.done:
                if stop.requested:
                    raise Interrupted(
                        f"training stopped at step {s.step} of {s.total_steps}; "
                        f"checkpoint saved: continue with --resume {s.out}"
                    )
                return


def _one_step(s: _Session) -> None:
    t0 = time.perf_counter()
    loss, grad_norm, tokens = _step(
        s.model, s.optimizer, s.job.train, s.order, s.job.plan, s.config, s.rt, s.step,
        s.total_steps,
    )  # fmt: skip
    s.step += 1
    s.ran += 1
    s.tokens += tokens
    s.ran_tokens += tokens
    dt = time.perf_counter() - t0
    s.emit(
        {
            "step": s.step,
            "tokens": s.tokens,
            "loss": loss,
            "lr": s.job.plan.learning_rate(s.step - 1, s.total_steps),
            "grad_norm": grad_norm,
            "step_s": round(dt, 4),
            "tokens_per_s": round(tokens / dt, 1),
            "total_steps": s.total_steps,
        }
    )


def _validation(s: _Session) -> None:
    """The validation loss; for a job with patience, whether it is a new best (whose weights
    are kept) or how many validations have passed without one."""
    s.last_valid = _validate(s.model, s.job.valid, s.job.valid_indices, s.config, s.rt)
    if s.last_valid is None:
        return
    row: dict[str, Any] = {"step": s.step, "tokens": s.tokens, "valid_loss": s.last_valid}
    patience = s.job.patience
    if patience is not None:
        if s.best is None or s.last_valid < s.best.loss:
            weights = _cpu_copy(s.raw) if s.rt.main else None
            s.best = Best(s.last_valid, s.step, weights)
        else:
            s.best.since += 1
            s.stopped_early = s.best.since >= patience
        row.update(best_valid_loss=s.best.loss, best_step=s.best.step)
    s.emit(row)


def _cpu_copy(raw: Any) -> dict[str, Any]:
    return {k: v.detach().to("cpu", copy=True) for k, v in raw.state_dict().items()}


def _finish(s: _Session, started: float) -> dict[str, Any]:
    """The run's summary; when the run is done, the final model and its plot as well (the
    best validation's weights, for a job with patience)."""
    elapsed = time.monotonic() - started
    examples_seen = s.step * s.job.plan.examples_per_step
    summary = {
        **s.meta,
        "config": asdict(s.config),
        "steps": s.step,
        "total_steps": s.total_steps,
        "complete": s.done,
        "tokens": s.tokens,
        "epochs": round(examples_seen / s.job.train.count, 3),
        "final_train_loss": _recent_train_loss(s.out / LOG_FILE) if s.rt.main else None,
        "final_valid_loss": s.last_valid,
        "wall_s": round(elapsed, 1),
        "steps_this_run": s.ran,
        "tokens_per_s_this_run": round(s.ran_tokens / max(elapsed, 1e-9), 1),
    }
    if s.job.patience is not None:
        summary.update(
            best_valid_loss=s.best.loss if s.best else None,
            best_step=s.best.step if s.best else None,
            stopped_early=s.stopped_early,
        )
    if s.done and s.rt.main:
        if s.best is not None and s.best.weights is not None:
            s.raw.load_state_dict(s.best.weights)
        _export(s)
        summary["plot"] = _plot(s.out)
        write_text_atomic(s.out / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")
    return summary


def _fit_budget(
    budget: float, started: float, timed_from: tuple[float, int], step: int, total_steps: int
) -> int:
    now = time.monotonic()
    per_step = (now - timed_from[0]) / (step - timed_from[1])
    left = budget - (now - started)
    # Keep a tenth of the budget for validations and checkpoints.
    fits = step + int(max(0.0, 0.9 * left) / per_step)
    return max(step + 1, min(total_steps, fits))


def _optimizer(raw: Any, config: Recipe, lr: float, rt: Runtime) -> Any:
    import torch

    decay = [p for p in raw.parameters() if p.requires_grad and p.dim() >= 2]
    rest = [p for p in raw.parameters() if p.requires_grad and p.dim() < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    extra = {"fused": True} if rt.device.type == "cuda" else {}
    return torch.optim.AdamW(
        groups, lr=lr, betas=(config.beta1, config.beta2), eps=config.eps, **extra
    )


def step_examples(data: Examples, order: EpochOrder, the_plan: Plan, step: int) -> list[int]:
    """The examples of optimizer step `step`, all processes', shortest first."""
    first = step * the_plan.examples_per_step
    chosen = [order(n) for n in range(first, first + the_plan.examples_per_step)]
    return sorted(chosen, key=lambda i: data.sizes(i)[0])  # stable: equal sizes keep the order


def _step(
    model: Any,
    optimizer: Any,
    data: Examples,
    order: EpochOrder,
    the_plan: Plan,
    config: Recipe,
    rt: Runtime,
    step: int,
    total_steps: int,
) -> tuple[float, float, int]:
    """One optimizer step: (mean loss over the step's target tokens, gradient norm before
    clipping, tokens fed)."""
    import torch

    lr = the_plan.learning_rate(step, total_steps)
    for group in optimizer.param_groups:
        group["lr"] = lr
    chosen = step_examples(data, order, the_plan, step)
    sizes = [data.sizes(i) for i in chosen]
    targets = sum(scored for _, scored in sizes)
    # Each process's sum over its tokens, over all target tokens of the step: DDP averages the
    # processes' gradients, so each scales its own by the number of processes.
    scale = rt.world / targets
    mb = config.micro_batch
    loss_sum = torch.zeros((), device=rt.device)
    for m in range(the_plan.accumulation):
        j = m * rt.world + rt.rank
        batch = data.batch(chosen[j * mb : (j + 1) * mb]).to(rt.device)
        last = m == the_plan.accumulation - 1
        sync = contextlib.nullcontext() if last or rt.world == 1 else model.no_sync()
        with sync:
            loss = loss_sum_of(model, batch, rt)
            (loss * scale).backward()
        loss_sum += loss.detach()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if rt.world > 1:
        torch.distributed.all_reduce(loss_sum)
    return loss_sum.item() / targets, float(grad_norm), sum(fed for fed, _ in sizes)


def loss_sum_of(model: Any, batch: Batch, rt: Runtime) -> Any:
    """The summed cross-entropy of the batch's labelled positions (IGNORE ones take none)."""
    import torch
    import torch.nn.functional as F

    autocast = (
        torch.autocast(rt.device.type, dtype=rt.autocast)
        if rt.autocast is not None
        else contextlib.nullcontext()
    )
    with autocast:
        logits = model(
            input_ids=batch.input_ids,
            attention_mask=batch.attention_mask,
            position_ids=batch.position_ids,
            use_cache=False,
        ).logits
    return F.cross_entropy(
        logits.float().flatten(0, 1),
        batch.labels.flatten(),
        ignore_index=IGNORE,
        reduction="sum",
    )


def _validate(
    model: Any, data: Examples | None, indices: Sequence[int], config: Recipe, rt: Runtime
) -> float | None:
    """Mean loss over the target tokens of the validation examples `indices`, batched
    shortest first (deterministic)."""
    import torch

    if data is None or not indices:
        return None
    ordered = sorted(indices, key=lambda i: data.sizes(i)[0])
    mine = ordered[rt.rank :: rt.world]
    total = torch.zeros(2, device=rt.device, dtype=torch.float64)
    model.eval()
    with torch.no_grad():
        for i in range(0, len(mine), config.micro_batch):
            rows = mine[i : i + config.micro_batch]
            loss = loss_sum_of(model, data.batch(rows).to(rt.device), rt)
            targets = sum(data.sizes(r)[1] for r in rows)
            count = torch.tensor(float(targets), device=rt.device, dtype=torch.float64)
            total += torch.stack([loss.detach().double(), count])
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


def _find_checkpoint(out: Path, config_file: str = CONFIG_FILE) -> Path | None:
    """The latest complete checkpoint, recovering from a crash in the middle of a swap."""
    return complete_directory(
        out / CHECKPOINT,
        lambda path: (path / STATE_FILE).is_file() and (path / config_file).is_file(),
    )


def _save_checkpoint(s: _Session) -> None:
    import numpy as np
    import torch

    if s.rt.main:
        SafetensorError = _safetensor_error()
        tmp = s.out / f".{CHECKPOINT}.tmp-{os.getpid()}"
        best = s.best
        state = {
            "step": s.step,
            "total_steps": s.total_steps,
            "tokens": s.tokens,
            "stopped_early": s.stopped_early,
            "best": None
            if best is None
            else {"loss": best.loss, "step": best.step, "since": best.since},
            "optimizer": s.optimizer.state_dict(),
            "rng": {
                "python": random.getstate(),
                "numpy": np.random.get_state(),
                "torch": torch.get_rng_state(),
                "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
            },
        }
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            _write_model_dir(s.raw, s.job, tmp, dtype=None)
            if best is not None and best.weights is not None:
                from safetensors.torch import save_file

                save_file(best.weights, str(tmp / BEST_FILE))
            torch.save(state, tmp / STATE_FILE)
            _fsync_dir(tmp)
            replace_directory(tmp, s.out / CHECKPOINT)
        except (OSError, RuntimeError, SafetensorError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            raise OutputError(
                f"{s.out}: cannot write the checkpoint of step {s.step}: {_write_error(e)}; "
                "the previous checkpoint is left as it was"
            ) from None
    if s.rt.world > 1:
        torch.distributed.barrier()


def _restore(s: _Session, checkpoint: Path) -> None:
    """Where the checkpoint's run stood: step, tokens, optimizer, random states, best."""
    import numpy as np
    import torch

    state = torch.load(checkpoint / STATE_FILE, map_location=s.rt.device, weights_only=False)
    s.optimizer.load_state_dict(state["optimizer"])
    rng = state["rng"]
    random.setstate(rng["python"])
    np.random.set_state(rng["numpy"])
    torch.set_rng_state(rng["torch"].cpu())
    if rng.get("cuda") is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([t.cpu() for t in rng["cuda"]])
    s.step, s.total_steps, s.tokens = state["step"], state["total_steps"], state["tokens"]
    s.stopped_early = state.get("stopped_early", False)
    best = state.get("best")
    if best is not None:
        weights = None
        if s.rt.main:
            from safetensors.torch import load_file

            weights = load_file(str(checkpoint / BEST_FILE))
        s.best = Best(best["loss"], best["step"], weights, best["since"])


def _write_model_dir(raw: Any, job: Job, path: Path, dtype: Any) -> None:
    import torch

    path.mkdir(parents=True, exist_ok=True)
    model = raw
    if dtype is not None and dtype != torch.float32:
        import copy

        model = copy.deepcopy(raw).to(dtype)
        model.config.dtype = dtype
    model.save_pretrained(str(path), safe_serialization=True)
    for name in _TOKENIZER_FILES:
        src = job.tokenizer_dir / name
        if src.is_file():
            shutil.copyfile(src, path / name)
    (path / job.config_file).write_text(json.dumps(asdict(job.config), indent=2) + "\n")


def _fsync_dir(path: Path) -> None:
    for f in path.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _export(s: _Session) -> None:
    """The final model as out's own files: a Hugging Face model directory."""
    import torch

    SafetensorError = _safetensor_error()
    dtypes = {"float32": torch.float32, "bfloat16": torch.bfloat16}
    tmp = s.out / f".export.tmp-{os.getpid()}"
    try:
        shutil.rmtree(tmp, ignore_errors=True)
        _write_model_dir(s.raw, s.job, tmp, dtypes[s.config.export_dtype])
        for extra in s.job.final_files:
            shutil.copyfile(extra, tmp / extra.name)
        for f in tmp.iterdir():
            os.replace(f, s.out / f.name)
        tmp.rmdir()
    except (OSError, RuntimeError, SafetensorError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise OutputError(f"{s.out}: cannot write the final model: {_write_error(e)}") from None


def _safetensor_error() -> type[Exception]:
    import safetensors

    return getattr(safetensors, "SafetensorError", RuntimeError)


def _write_error(e: Exception) -> str:
    # A full disk reaches us as OSError from Python's own writes, but as SafetensorError
    # from safetensors and as RuntimeError from torch.save.
    return getattr(e, "strerror", None) or (str(e).splitlines() or [type(e).__name__])[0]


# Log and plot ------------------------------------------------------------------------------


def _start_log(out: Path) -> None:
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
