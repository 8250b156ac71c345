"""passk's own batched sampler over a Hugging Face causal LM's KV cache (Chen et al. 2021, 2.3).

The paper draws many samples per problem with nucleus sampling (top-p 0.95) and stops each at
the first stop sequence; it ranks samples by their mean token log-probability (section 3.3).
Here the requests for one prompt share a single prefill whose cache is copied to one row per
sample; requests for different prompts share a batch through left padding. Each row draws from
its own random stream, seeded by its request, so a sample does not depend on what else is in
the batch. Rows leave the batch as soon as they finish, so later steps compute less.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from passk.errors import InputError
from passk.generation.types import Completion, SampleRequest, SamplingParams, cut_at_stop

if TYPE_CHECKING:
    import torch

# Prompt tokens decoded before a row's first generated token, so that tokenizers which drop a
# word's leading space at the start of a decode (SentencePiece) keep it in the completion.
CONTEXT_TOKENS = 4
INVALID = "\ufffd"  # what a decode of a partial UTF-8 sequence ends with
# Finished rows leave the batch (a copy of the whole KV cache) once they are 1/COMPACT_AT of it.
COMPACT_AT = 4


@dataclass(frozen=True)
class Sample:
    """One finished row: its completion, and the tokens behind it for checks and analyses."""

    request: SampleRequest
    completion: Completion
    token_ids: tuple[int, ...]  # every generated token, the end-of-text token excluded
    logprobs: tuple[float, ...]  # the model's own log-probability of each token
    # The first completion.num_tokens of these are the kept ones.


@dataclass
class Group:
    """Requests that share one prompt, and the prompt's token ids.

    A healed prompt has lost its last token, whose text is `heal`; the first token drawn is
    then one of `allowed`, the tokens whose text begins with `heal`, and `heal` is not part
    of the completion.
    """

    prompt_ids: list[int]
    requests: list[SampleRequest]
    heal: str = ""
    allowed: tuple[int, ...] = ()


def encode_prompts(
    tokenizer: Any, requests: Sequence[SampleRequest], *, token_healing: bool = False
) -> list[Group]:
    """Tokenize each distinct prompt once; groups in the order prompts first appear.

    With token_healing, a prompt that ends in a whitespace-only token which longer tokens
    extend (a bare newline, where the vocabulary merges a newline with the next line's
    indentation) is healed: see `Group`. Otherwise the model would see a token boundary that
    training text never has there, and after a bare newline a code model expects a new
    top-level statement rather than the function body the prompt asks for.
    """
    vocabulary = _token_strings(tokenizer) if token_healing else None
    groups: dict[str, Group] = {}
    for request in requests:
        if request.prompt not in groups:
            groups[request.prompt] = _heal(
                tokenizer, Group(_encode(tokenizer, request), []), vocabulary
            )
        groups[request.prompt].requests.append(request)
    return list(groups.values())


Vocabulary = tuple[tuple[str, ...], frozenset[int], dict[str, tuple[int, ...]]]


def _token_strings(tokenizer: Any) -> Vocabulary:
    """Every id's raw vocabulary string (byte-level or SentencePiece form), the special ids,
    and a cache of the allowed sets found so far."""
    ids = range(len(tokenizer))
    strings = tuple(tokenizer.convert_ids_to_tokens(list(ids)))
    return strings, frozenset(tokenizer.all_special_ids), {}


def _heal(tokenizer: Any, group: Group, vocabulary: Vocabulary | None) -> Group:
    if vocabulary is None or len(group.prompt_ids) < 2:
        return group
    strings, special, found = vocabulary
    last = group.prompt_ids[-1]
    if last >= len(strings) or last in special:
        return group
    text = tokenizer.decode([last])
    if not text or not text.isspace():
        return group
    raw = strings[last]
    if raw not in found:
        found[raw] = tuple(
            i for i, t in enumerate(strings) if t and t.startswith(raw) and i not in special
        )
    allowed = found[raw]
    if len(allowed) < 2:
        return group
    return Group(group.prompt_ids[:-1], group.requests, heal=text, allowed=allowed)


def _encode(tokenizer: Any, request: SampleRequest) -> list[int]:
    ids = list(tokenizer(request.prompt).input_ids)
    if not ids and tokenizer.bos_token_id is not None:
        ids = [tokenizer.bos_token_id]  # an empty prompt still needs one position to predict from
    if not ids:
        raise InputError(f"{request.task_id}: the prompt is empty and the tokenizer has no BOS")
    return ids


def check_context(groups: Sequence[Group], max_tokens: int, max_context: int) -> None:
    """Raise one InputError for prompts that leave no room for max_tokens new tokens."""
    too_long = [g for g in groups if len(g.prompt_ids) + max_tokens > max_context]
    if not too_long:
        return
    first, more = too_long[0], len(too_long) - 1
    also = f" (and {more} more prompts)" if more else ""
    raise InputError(
        f"{first.requests[0].task_id}: the prompt is {len(first.prompt_ids)} tokens; with "
        f"--max-tokens {max_tokens} it needs {len(first.prompt_ids) + max_tokens}, more than "
        f"the model's context window of {max_context} tokens{also}"
    )


def plan_batches(groups: Sequence[Group], batch_size: int) -> list[list[Group]]:
    """Split groups into chunks of at most batch_size rows, then pack chunks into batches."""
    chunks = [
        Group(g.prompt_ids, g.requests[i : i + batch_size], g.heal, g.allowed)
        for g in groups
        for i in range(0, len(g.requests), batch_size)
    ]
    # Prompts of similar length side by side waste less of the batch on left padding.
    chunks.sort(key=lambda c: len(c.prompt_ids), reverse=True)
    batches: list[list[Group]] = []
    rows = batch_size
    for chunk in chunks:
        if rows + len(chunk.requests) > batch_size:
            batches.append([])
            rows = 0
        batches[-1].append(chunk)
        rows += len(chunk.requests)
    return batches


def sample(
    model: Any,
    tokenizer: Any,
    groups: Sequence[Group],
    params: SamplingParams,
    *,
    eos_ids: frozenset[int],
    batch_size: int = 32,
    trace: list[int] | None = None,
) -> Iterator[Sample]:
    """Draw every request of `groups`, yielding each sample as its row finishes.

    `trace`, when given, receives the number of rows of every decoding step's forward pass.
    """
    for batch in plan_batches(groups, batch_size):
        state = _prefill(model, tokenizer, batch, params, eos_ids)
        while state.rows:
            yield from _step(state, params, trace)


# ---- one batch ------------------------------------------------------------------------------


class Detokenizer:
    """A row's generated text, decoded incrementally, with the character offset of each token.

    Only the tail is decoded at each step: the tokens since the last complete character, after
    the tokens that precede them for context. A token that ends inside a UTF-8 character is held
    back until the character completes.
    """

    def __init__(self, decode: Callable[[list[int]], str], context: list[int]) -> None:
        self.decode = decode
        self.ids = list(context)
        self.prefix, self.read = 0, len(self.ids)  # ids[prefix:read] is context for ids[read:]
        self.prefix_chars = len(self._decode(self.prefix, self.read))
        self.text = ""  # complete characters only
        self.held = ""  # decoded ids[read:], ending in a partial character
        self.starts: list[int] = []  # per generated token, the offset of its first character

    def _decode(self, start: int, end: int | None = None) -> str:
        return self.decode(self.ids[start:end])

    def push(self, token: int) -> str:
        """Add one token; return the characters it completed (often none or one token's worth)."""
        self.ids.append(token)
        new = self._decode(self.prefix)[self.prefix_chars :]
        # The token starts where the held text and the new text part: at the partial character
        # it completes, or after held bytes that stay invalid.
        self.starts.append(len(self.text) + common_prefix(self.held, new))
        if new.endswith(INVALID):
            self.held = new
            return ""
        self.text += new
        self.held = ""
        self.prefix, self.read = self.read, len(self.ids)
        self.prefix_chars = len(self._decode(self.prefix, self.read))
        return new

    def full_text(self) -> str:
        return self.text + self.held


def text_decoder(tokenizer: Any) -> Callable[[list[int]], str]:
    """Token ids to text, special tokens left out and spaces left alone (code is not prose)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:  # the Rust tokenizer itself: the same text, without the wrapper's cost
        return lambda ids: str(backend.decode(ids, skip_special_tokens=True))
    return lambda ids: str(
        tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
    )


def common_prefix(a: str, b: str) -> int:
    """How many leading characters a and b share.

    >>> common_prefix("ab\ufffd", "abé")
    2
    """
    n = min(len(a), len(b))
    return next((i for i in range(n) if a[i] != b[i]), n)


@dataclass
class Row:
    """One sample being drawn."""

    request: SampleRequest
    detokenizer: Detokenizer
    logprobs: list[float] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    skip: int = 0  # leading characters of the text that belong to the prompt (token healing)


@dataclass
class BatchState:
    """The live rows of a batch and the tensors that follow them, one row each."""

    model: Any
    rows: list[Row | None]  # None: finished, still in the tensors until the next compaction
    cache: Any  # transformers DynamicCache, [rows, heads, positions, head_dim] per layer
    mask: torch.Tensor  # [rows, positions]: 0 over left padding
    positions: torch.Tensor  # [rows]: the position the next token takes
    logits: torch.Tensor  # [rows, vocab] for the next token, float32
    uniforms: torch.Tensor | None  # [rows, max_tokens]: each row's random stream; None if greedy
    eos_ids: frozenset[int]
    step: int = 0


def _prefill(
    model: Any,
    tokenizer: Any,
    batch: list[Group],
    params: SamplingParams,
    eos_ids: frozenset[int],
) -> BatchState:
    """Run the batch's distinct prompts once, then copy each prompt's cache to its rows."""
    import torch
    from transformers import DynamicCache

    with torch.inference_mode():
        device = model.device
        ids, mask = _left_pad([g.prompt_ids for g in batch], device)  # [prompts, length]
        positions = (mask.cumsum(-1) - 1).clamp(min=0)  # [prompts, length]
        cache = DynamicCache(config=model.config)
        logits = _forward(model, ids, mask, positions, cache)  # [prompts, vocab]
        for i, group in enumerate(batch):
            if group.allowed:  # a healed prompt: the first token must give back its text
                keep = torch.zeros(logits.shape[-1], dtype=torch.bool, device=device)
                keep[list(group.allowed)] = True
                logits[i] = logits[i].masked_fill(~keep, float("-inf"))
        owner = [i for i, g in enumerate(batch) for _ in g.requests]
        index = torch.tensor(owner, device=device)  # [rows]: each row's prompt
        cache.batch_select_indices(index)
        _append_in_place(cache)
        requests = [r for g in batch for r in g.requests]
        decode = text_decoder(tokenizer)
        return BatchState(
            model=model,
            rows=[
                Row(
                    r,
                    Detokenizer(decode, batch[i].prompt_ids[-CONTEXT_TOKENS:]),
                    skip=len(batch[i].heal),
                )
                for r, i in zip(requests, owner, strict=True)
            ],
            cache=cache,
            mask=mask[index],
            positions=positions[index, -1] + 1,
            logits=logits[index],
            uniforms=None if params.greedy else _uniforms(requests, params.max_tokens, device),
            eos_ids=eos_ids,
        )


def _append_in_place(cache: Any) -> None:
    """Let the cache's layers append each step's keys and values into spare room.

    A DynamicLayer concatenates, copying the whole cache at every token: on a CPU that cost
    more than the model's own step. Layers of other kinds (sliding windows...) are left as
    they are.
    """
    from transformers.cache_utils import DynamicLayer

    grower = _growing_layer_class()
    for layer in getattr(cache, "layers", ()):
        if type(layer) is DynamicLayer:
            layer.__class__ = grower


@functools.cache
def _growing_layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class GrowingLayer(DynamicLayer):
        """A DynamicLayer over a buffer with room to grow (doubling, so appends are cheap)."""

        _keys_buffer: Any = None
        _values_buffer: Any = None

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            keys: Any = self.keys
            if not self.is_initialized or keys.numel() == 0:
                return super().update(key_states, value_states, *args, **kwargs)
            length = keys.shape[-2]
            needed = length + key_states.shape[-2]
            if self._keys_buffer is None or self._keys_buffer.shape[-2] < needed:
                self._keys_buffer = _room(keys, max(needed, 2 * length))
                self._values_buffer = _room(self.values, max(needed, 2 * length))
            self._keys_buffer[:, :, length:needed] = key_states  # [rows, heads, new, dim]
            self._values_buffer[:, :, length:needed] = value_states
            self.keys = self._keys_buffer[:, :, :needed]  # views: [rows, heads, needed, dim]
            self.values = self._values_buffer[:, :, :needed]
            return self.keys, self.values

        def batch_select_indices(self, indices: Any) -> None:
            super().batch_select_indices(indices)  # fresh tensors: the buffers are stale
            self._keys_buffer = self._values_buffer = None

    return GrowingLayer


def _room(states: Any, capacity: int) -> Any:
    """states [rows, heads, length, dim] copied into a buffer [rows, heads, capacity, dim]."""
    rows, heads, length, dim = states.shape
    buffer = states.new_empty(rows, heads, capacity, dim)
    buffer[:, :, :length] = states
    return buffer


def _left_pad(prompts: list[list[int]], device: Any) -> tuple[torch.Tensor, torch.Tensor]:
    import torch

    length = max(map(len, prompts))
    ids = torch.zeros(len(prompts), length, dtype=torch.long)  # [prompts, length]
    mask = torch.zeros(len(prompts), length, dtype=torch.long)  # [prompts, length]
    for i, prompt in enumerate(prompts):
        ids[i, length - len(prompt) :] = torch.tensor(prompt)
        mask[i, length - len(prompt) :] = 1
    return ids.to(device), mask.to(device)


def _uniforms(requests: list[SampleRequest], max_tokens: int, device: Any) -> torch.Tensor:
    """Each row's uniform draws for all its steps, from a CPU generator seeded by its request:
    the same on every device and in every batch."""
    import torch

    draws = [
        torch.rand(max_tokens, generator=torch.Generator().manual_seed(r.seed), dtype=torch.float64)
        for r in requests
    ]
    return torch.stack(draws).to(device)  # [rows, max_tokens]


def _forward(
    model: Any, ids: torch.Tensor, mask: torch.Tensor, positions: torch.Tensor, cache: Any
) -> torch.Tensor:
    """Logits for the token after each row's last input, as float32: [rows, vocab]."""
    out = model(
        input_ids=ids,
        attention_mask=mask,
        position_ids=positions,
        use_cache=True,
        logits_to_keep=1,  # the vocabulary projection only where we sample
        **{cache_keyword(model): cache},
    )
    return out.logits[:, -1, :].float()


def cache_keyword(model: Any) -> str:
    """transformers 5 renames `past_key_values` to `cache`; use what this version takes."""
    import inspect

    model_class = type(model)
    if model_class not in _CACHE_KEYWORDS:  # inspecting a signature on every step adds up
        forward = inspect.signature(model_class.forward).parameters
        _CACHE_KEYWORDS[model_class] = "cache" if "cache" in forward else "past_key_values"
    return _CACHE_KEYWORDS[model_class]


_CACHE_KEYWORDS: dict[type, str] = {}


def _step(state: BatchState, params: SamplingParams, trace: list[int] | None) -> list[Sample]:
    """Choose every row's next token, retire the rows that finish, advance the rest."""
    import torch

    with torch.inference_mode():
        u = None if state.uniforms is None else state.uniforms[:, state.step]
        tokens = choose_tokens(state.logits, params, u)  # [rows]
        logps = state.logits.log_softmax(-1).gather(-1, tokens[:, None])[:, 0]  # [rows]
        state.step += 1
        done = [
            None if row is None else _advance(row, t, lp, params, state.eos_ids)
            for row, t, lp in zip(state.rows, tokens.tolist(), logps.tolist(), strict=True)
        ]
        finished = [
            _finish(row, why, params)
            for row, why in zip(state.rows, done, strict=True)
            if row is not None and why
        ]
        state.rows = [None if why else row for row, why in zip(state.rows, done, strict=True)]
        live = [i for i, row in enumerate(state.rows) if row is not None]
        if live:
            _decode_next(state, tokens, live, trace)
        else:
            state.rows = []
        return finished


def _advance(
    row: Row, token: int, logp: float, params: SamplingParams, eos_ids: frozenset[int]
) -> str | None:
    """Take a row's next token; return why the row finished ("stop", "length"), or None."""
    if token in eos_ids:
        return "stop"  # the end-of-text token is not part of the text, nor counted
    row.token_ids.append(token)
    row.logprobs.append(logp)
    before = len(row.detokenizer.text)
    if row.detokenizer.push(token) and _stop_in_tail(
        row.detokenizer.text, before, params.stop, row.skip
    ):
        return "stop"
    return "length" if len(row.token_ids) == params.max_tokens else None


def _stop_in_tail(text: str, before: int, stop: Sequence[str], skip: int = 0) -> bool:
    """Whether a stop sequence ends in text[before:], the characters just added, and starts
    at or after `skip` (text before it is the prompt's)."""
    return any(s and text.find(s, max(skip, before - len(s) + 1)) >= 0 for s in stop)


def _finish(row: Row, reason: str, params: SamplingParams) -> Sample:
    text, stopped = cut_at_stop(row.detokenizer.full_text()[row.skip :], params.stop)
    starts = [max(0, s - row.skip) for s in row.detokenizer.starts]
    # Tokens that start before the cut are kept (one straddling it too), as Completion says.
    kept = sum(1 for s in starts if s < len(text)) if stopped else len(starts)
    logprobs = tuple(row.logprobs[:kept])
    total = float(sum(logprobs))
    completion = Completion(
        text=text,
        num_tokens=kept,
        sum_logp=total,
        mean_logp=total / kept if kept else None,
        finish_reason=reason,
        tokens=_token_texts(row.detokenizer, row.skip)[:kept],
        token_logprobs=logprobs,
        token_ids=tuple(row.token_ids[:kept]),
    )
    return Sample(row.request, completion, tuple(row.token_ids), tuple(row.logprobs))


def _token_texts(detokenizer: Detokenizer, skip: int = 0) -> tuple[str, ...]:
    """Each token's own text (a healed first token without the prompt's part); the last kept
    one may run past a stop cut."""
    text = detokenizer.full_text()[skip:]
    starts = [max(0, s - skip) for s in detokenizer.starts]
    if not starts:  # the row ended at once (end-of-text first): no tokens
        return ()
    return tuple(text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True))


def _decode_next(
    state: BatchState, tokens: torch.Tensor, live: list[int], trace: list[int] | None
) -> None:
    """Run one decoding step for every row, first dropping the finished rows from every
    tensor once they are a quarter of the batch or more.

    Dropping rows copies the whole KV cache; until then a finished row (None in state.rows)
    rides along and its output is ignored. Rows never see each other (each attends to its own
    cache under its own mask), so this changes only the cost.
    """
    import torch

    dead = len(state.rows) - len(live)
    if dead and dead * COMPACT_AT >= len(state.rows):
        keep = torch.tensor(live, device=state.mask.device)  # [live rows]
        state.cache.batch_select_indices(keep)
        state.rows = [state.rows[i] for i in live]
        state.mask, state.positions, tokens = state.mask[keep], state.positions[keep], tokens[keep]
        if state.uniforms is not None:
            state.uniforms = state.uniforms[keep]
    rows = len(state.rows)
    ones = state.mask.new_ones(rows, 1)  # [rows, 1]
    state.mask = torch.cat([state.mask, ones], dim=-1)  # [rows, positions + 1]
    state.logits = _forward(
        state.model, tokens[:, None], state.mask, state.positions[:, None], state.cache
    )
    state.positions = state.positions + 1
    if trace is not None:
        trace.append(rows)


# ---- choosing tokens ------------------------------------------------------------------------


def choose_tokens(
    logits: torch.Tensor, params: SamplingParams, uniforms: torch.Tensor | None
) -> torch.Tensor:
    """Each row's next token: argmax at temperature 0, else an inverse-CDF draw with the row's
    own uniform from the temperature-scaled distribution cut by top-k, then top-p.

    logits: [rows, vocab] float32; uniforms: [rows] in [0, 1). Returns [rows] token ids.
    """
    if params.greedy or uniforms is None:
        return logits.argmax(-1)
    probs = (logits / params.temperature).softmax(-1)  # [rows, vocab]
    order = None
    if params.top_k or params.top_p < 1:
        probs, order = probs.sort(dim=-1, descending=True, stable=True)  # [rows, vocab] each
        probs = _truncate(probs, params.top_p, params.top_k)
    cdf = probs.cumsum(-1)  # [rows, vocab]
    targets = (uniforms.to(cdf.dtype) * cdf[:, -1])[:, None]  # [rows, 1]
    picks = _first_above(cdf, targets)  # [rows]
    # A draw at the very top of the CDF can, by rounding, land on a token of probability 0.
    picks = picks.where(probs.gather(-1, picks[:, None])[:, 0] > 0, probs.argmax(-1))
    return picks if order is None else order.gather(-1, picks[:, None])[:, 0]


def _first_above(cdf: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """The first index whose cumulative probability exceeds the target, per row: [rows]."""
    import torch

    picks = torch.searchsorted(cdf, targets, right=True)[:, 0]  # [rows]
    return picks.clamp(max=cdf.shape[-1] - 1)


def _truncate(sorted_probs: torch.Tensor, top_p: float, top_k: int) -> torch.Tensor:
    """Zero the tail of descending probabilities: beyond top-k (0 = off), then beyond the
    nucleus, the fewest tokens whose mass (after the top-k cut) reaches top_p.

    The order (top-k, renormalise, then top-p) is that of Hugging Face's and vLLM's samplers.
    """
    if top_k:
        sorted_probs = sorted_probs.clone()
        sorted_probs[:, top_k:] = 0
        sorted_probs = sorted_probs / sorted_probs.sum(-1, keepdim=True)
    mass_before = sorted_probs.cumsum(-1) - sorted_probs  # [rows, vocab]
    return sorted_probs * (mass_before < top_p)  # the top token always stays
