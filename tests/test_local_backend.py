"""The local backend and passk's sampler, against a tiny random Llama built in the test.

References: Hugging Face's `model.generate` for greedy decoding, a plain forward pass for the
log-probabilities, and exact inverse-CDF arithmetic for the sampling distribution.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from passk.benchmarks.humaneval import STOP_SEQUENCES
from passk.errors import InputError
from passk.generation import sampling
from passk.generation.local import LocalBackend
from passk.generation.types import SampleRequest, SamplingParams, cut_at_stop
from tiny_model import make_tiny_model

PROMPTS = [
    'def add(a, b):\n    """Add two numbers."""\n',
    "import math\n\n\ndef area(r):\n",
    "x = 1\n",
    "from typing import List\n\n\ndef has_close_elements(numbers: List[float]) -> bool:\n",
]
GREEDY = SamplingParams(temperature=0, max_tokens=24)
WARM = SamplingParams(temperature=1.0, top_p=1.0, max_tokens=24)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture(scope="module")
def backend(tiny_dir: Path) -> LocalBackend:
    # Token healing off: these tests hold the sampler to transformers' generate, which has none.
    return LocalBackend(tiny_dir, device="cpu", batch_size=8, token_healing=False)


def requests(prompts: list[str], seed: int = 0, n: int = 1) -> list[SampleRequest]:
    return [
        SampleRequest(f"t/{i}", j, prompt, seed + 1000 * i + j)
        for i, prompt in enumerate(prompts)
        for j in range(n)
    ]


def draw(backend: LocalBackend, reqs: list[SampleRequest], params: SamplingParams, **kw):
    """Samples by (task_id, completion_id)."""
    return {s.request.key: s for s in backend.sample(reqs, params, **kw)}


def hf_greedy(backend: LocalBackend, prompts: list[str], max_new: int) -> list[list[int]]:
    """Hugging Face's greedy tokens for a left-padded batch, cut at the end-of-text token."""
    tokenizer = backend.tokenizer
    tokenizer.padding_side = "left"
    batch = tokenizer(prompts, return_tensors="pt", padding=True)
    out = backend.model.generate(**batch, do_sample=False, max_new_tokens=max_new)
    rows = out[:, batch.input_ids.shape[1] :].tolist()
    return [row[: row.index(e)] if (e := tokenizer.eos_token_id) in row else row for row in rows]


# ---- decoding ---------------------------------------------------------------------------------


def test_model_id_and_context(backend: LocalBackend, tiny_dir: Path) -> None:
    assert backend.model_id == "tiny-llama"
    assert backend.max_context() == 512


def test_greedy_equals_hf_generate_alone_and_batched(backend: LocalBackend) -> None:
    alone = [hf_greedy(backend, [p], 24)[0] for p in PROMPTS]
    assert hf_greedy(backend, PROMPTS, 24) == alone  # the reference itself is batch-independent
    batched = draw(backend, requests(PROMPTS), GREEDY)
    assert [list(batched[f"t/{i}", 0].token_ids) for i in range(len(PROMPTS))] == alone
    for i, prompt in enumerate(PROMPTS):
        single = draw(backend, [SampleRequest(f"t/{i}", 0, prompt, 0)], GREEDY)
        assert list(single[f"t/{i}", 0].token_ids) == alone[i]


def test_sample_does_not_depend_on_batch(backend: LocalBackend) -> None:
    reqs = requests(PROMPTS, n=3)
    together = draw(backend, reqs, WARM)
    for r in reqs[::2]:
        alone = draw(backend, [r], WARM)[r.key]
        assert alone.completion.text == together[r.key].completion.text


def test_same_seed_same_samples_other_seed_other_samples(backend: LocalBackend) -> None:
    first = draw(backend, requests(PROMPTS, seed=1, n=2), WARM)
    again = draw(backend, requests(PROMPTS, seed=1, n=2), WARM)
    other = draw(backend, requests(PROMPTS, seed=2, n=2), WARM)
    assert {k: s.token_ids for k, s in first.items()} == {k: s.token_ids for k, s in again.items()}
    assert all(first[k].token_ids != other[k].token_ids for k in first)


def test_many_copies_of_one_prompt(backend: LocalBackend) -> None:
    reqs = requests(PROMPTS[:1], n=20)  # over two batches of 8 and one of 4
    samples = draw(backend, reqs, WARM)
    assert set(samples) == {r.key for r in reqs}
    assert len({s.token_ids for s in samples.values()}) == 20
    assert all(s.completion.finish_reason == "length" for s in samples.values())
    assert all(s.completion.num_tokens == 24 for s in samples.values())


def test_batches_hold_at_most_batch_size_rows_and_every_request_once() -> None:
    groups = [
        sampling.Group([1] * length, requests(["p"], n=n))
        for length, n in [(5, 20), (9, 3), (2, 3), (7, 1)]
    ]
    batches = sampling.plan_batches(groups, 8)
    rows = [sum(len(chunk.requests) for chunk in batch) for batch in batches]
    assert max(rows) == 8 and sum(rows) == 27
    assert len(batches) == 4  # 8, 8, 4 + 3 + 1, 3 (or any packing as tight)


def test_top_k_1_and_tiny_top_p_are_greedy(backend: LocalBackend) -> None:
    greedy = draw(backend, requests(PROMPTS), GREEDY)
    for params in (
        SamplingParams(temperature=1.0, top_k=1, max_tokens=24),
        SamplingParams(temperature=1.5, top_p=1e-6, max_tokens=24),
    ):
        assert {k: s.token_ids for k, s in draw(backend, requests(PROMPTS), params).items()} == {
            k: s.token_ids for k, s in greedy.items()
        }


# ---- stop sequences, end of text, retired rows --------------------------------------------------


def token_starts(backend: LocalBackend, ids: tuple[int, ...]) -> list[int]:
    """Where each token's first character is in the decoded text, by brute force: the length
    of the text that the tokens before it decode to and the whole decodes to alike."""
    decode = backend.tokenizer.decode
    full = decode(list(ids))
    return [sampling.common_prefix(decode(list(ids[:k])), full) for k in range(len(ids))]


def test_stop_sequence_cuts_the_text_and_the_counts(backend: LocalBackend) -> None:
    full = draw(backend, requests(PROMPTS[:1]), GREEDY)["t/0", 0]
    text, starts = full.completion.text, token_starts(backend, full.token_ids)
    # A stop that starts one character before token k: token k - 1 straddles the cut, and counts.
    k = next(k for k in range(3, len(starts)) if starts[k] - starts[k - 1] >= 2)
    cut = starts[k] - 1
    stop = text[cut : cut + 4]
    assert text.find(stop) == cut
    params = SamplingParams(temperature=0, max_tokens=24, stop=(stop,))
    stopped = draw(backend, requests(PROMPTS[:1]), params)["t/0", 0]
    got = stopped.completion
    assert (got.text, got.finish_reason, got.num_tokens) == (text[:cut], "stop", k)
    assert got.sum_logp == pytest.approx(sum(full.logprobs[:k]))
    assert got.tokens is not None and "".join(got.tokens) == text[: starts[k]]
    assert len(stopped.token_ids) < len(full.token_ids)  # decoding ended at the stop


def test_humaneval_stops_match_cutting_afterwards(backend: LocalBackend) -> None:
    stops = (*STOP_SEQUENCES, "\n")  # the tiny model rarely writes "\ndef": newlines it does
    reqs = requests(PROMPTS, seed=5, n=4)
    free = draw(backend, reqs, SamplingParams(temperature=1.0, top_p=0.95, max_tokens=64))
    cut = draw(backend, reqs, SamplingParams(1.0, 0.95, 0, 64, stops))
    for key, sample in cut.items():
        text, stopped = cut_at_stop(free[key].completion.text, stops)
        assert sample.completion.text == text
        ended = stopped or free[key].completion.finish_reason == "stop"  # or end of text
        assert sample.completion.finish_reason == ("stop" if ended else "length")
    assert any(s.completion.finish_reason == "stop" for s in cut.values())


def test_end_of_text_finishes_a_row_and_the_row_leaves_the_batch(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    reqs = requests(PROMPTS[:2])
    greedy = draw(backend, reqs, GREEDY)
    eos = greedy["t/0", 0].token_ids[4]  # made the end-of-text token for this test
    assert eos not in greedy["t/0", 0].token_ids[:4] and eos not in greedy["t/1", 0].token_ids
    monkeypatch.setattr(backend, "eos_ids", frozenset({eos}))
    trace: list[int] = []
    ended = draw(backend, reqs, GREEDY, trace=trace)["t/0", 0]
    assert ended.completion.finish_reason == "stop"
    assert ended.token_ids == greedy["t/0", 0].token_ids[:4]  # the end token is not counted
    assert ended.completion.text == backend.tokenizer.decode(list(ended.token_ids))
    # Prefill chose token 1; decoding steps 1-4 ran both rows, then only the survivor.
    assert trace == [2] * 4 + [1] * 19


# ---- log-probabilities ----------------------------------------------------------------------------


def forward_logprobs(backend: LocalBackend, prompt: str, ids: tuple[int, ...]) -> list[float]:
    """Each generated token's log-probability from one plain forward pass over prompt + ids."""
    prompt_ids = backend.tokenizer(prompt).input_ids
    seq = torch.tensor([prompt_ids + list(ids)])
    with torch.no_grad():
        logits = backend.model(seq).logits[0, len(prompt_ids) - 1 : -1].float()
    return logits.log_softmax(-1).gather(-1, torch.tensor(ids)[:, None])[:, 0].tolist()


def test_logprobs_equal_a_forward_pass_over_the_kept_tokens(backend: LocalBackend) -> None:
    params = SamplingParams(temperature=0.8, top_p=0.9, max_tokens=40, stop=(*STOP_SEQUENCES, "\n"))
    samples = draw(backend, requests(PROMPTS, seed=9, n=3), params)
    for sample in samples.values():
        c = sample.completion
        kept = sample.token_ids[: c.num_tokens]
        reference = forward_logprobs(backend, sample.request.prompt, kept)
        assert c.sum_logp == pytest.approx(sum(reference), abs=1e-4)
        if c.num_tokens:
            assert c.mean_logp == pytest.approx(sum(reference) / len(reference), abs=1e-4)
        assert c.token_logprobs == pytest.approx(reference, abs=1e-4)
        assert c.token_ids == kept
        # Kept: every token that starts before the cut (all of them when nothing was cut).
        starts = token_starts(backend, sample.token_ids)
        full_text = backend.tokenizer.decode(list(sample.token_ids))
        cut = len(c.text) if cut_at_stop(full_text, params.stop)[1] else math.inf
        assert c.num_tokens == sum(1 for s in starts if s < cut)
        assert c.tokens is not None and "".join(c.tokens).startswith(c.text)
    assert any(s.completion.num_tokens < len(s.token_ids) for s in samples.values())


# ---- choosing tokens -------------------------------------------------------------------------------


def picks(probs: list[float], params: SamplingParams, n: int = 1000) -> list[int]:
    """How often each token is chosen for n evenly spaced uniforms: n times its probability."""
    logits = torch.tensor([probs]).log().expand(n, -1)
    uniforms = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    chosen = sampling.choose_tokens(logits, params, uniforms)
    return torch.bincount(chosen, minlength=len(probs)).tolist()


def test_inverse_cdf_follows_temperature_top_k_and_top_p() -> None:
    probs = [0.4, 0.3, 0.2, 0.1]
    assert picks(probs, SamplingParams(temperature=1.0, top_p=1.0)) == [400, 300, 200, 100]
    # temperature 0.5 squares the probabilities: 16:9:4:1
    assert picks(probs, SamplingParams(temperature=0.5, top_p=1.0), 300) == [160, 90, 40, 10]
    # the nucleus: 0.4 + 0.3 reaches 0.5, renormalised to 4:3
    assert picks(probs, SamplingParams(temperature=1.0, top_p=0.5), 700) == [400, 300, 0, 0]
    # top-k 3, renormalised to 4:3:2, then the nucleus 0.6 keeps 4:3
    assert picks(probs, SamplingParams(temperature=1.0, top_p=0.6, top_k=3), 700) == [
        400,
        300,
        0,
        0,
    ]


# ---- bad inputs -------------------------------------------------------------------------------------


def one_line_error(call) -> str:
    with pytest.raises(InputError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    return message


def test_bad_model_directories(tiny_dir: Path, tmp_path: Path) -> None:
    assert "does not exist" in one_line_error(lambda: LocalBackend(tmp_path / "nowhere"))
    no_config = tmp_path / "no-config"
    shutil.copytree(tiny_dir, no_config, ignore=shutil.ignore_patterns("config.json"))
    assert "no config.json" in one_line_error(lambda: LocalBackend(no_config))
    no_weights = tmp_path / "no-weights"
    shutil.copytree(tiny_dir, no_weights, ignore=shutil.ignore_patterns("*.safetensors"))
    assert "no safetensors weights" in one_line_error(lambda: LocalBackend(no_weights))
    no_tokenizer = tmp_path / "no-tokenizer"
    shutil.copytree(tiny_dir, no_tokenizer, ignore=shutil.ignore_patterns("tokenizer*"))
    assert "no tokenizer" in one_line_error(lambda: LocalBackend(no_tokenizer))
    encoder = tmp_path / "encoder"
    shutil.copytree(tiny_dir, encoder)
    (encoder / "config.json").write_text(json.dumps({"model_type": "t5"}))
    assert "not a causal language model" in one_line_error(lambda: LocalBackend(encoder))
    (encoder / "config.json").write_text("{")
    assert f"cannot load {encoder}" in one_line_error(lambda: LocalBackend(encoder))
    assert "--device" in one_line_error(lambda: LocalBackend(tiny_dir, device="abacus"))


def test_prompt_too_long_is_refused_before_generating(backend: LocalBackend) -> None:
    long_prompt = "x = [" + ", ".join(str(i) for i in range(400)) + "]\n"
    reqs = [SampleRequest("t/short", 0, "x = 1\n", 0), SampleRequest("t/long", 0, long_prompt, 0)]
    message = one_line_error(lambda: backend.generate(reqs, GREEDY))  # not even iterated
    assert "t/long" in message and "512" in message


def test_importing_generation_does_not_import_torch() -> None:
    code = "import sys, passk.generation, passk.generation.sampling; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---- token healing --------------------------------------------------------------------------


def test_token_healing_backs_up_a_bare_newline(backend: LocalBackend) -> None:
    tok = backend.tokenizer
    prompt = PROMPTS[0]  # ends in "\n", which this vocabulary also merges with indentation
    ids = list(tok(prompt).input_ids)
    strings = tok.convert_ids_to_tokens(list(range(len(tok))))
    assert sum(s.startswith(strings[ids[-1]]) for s in strings) > 1
    [plain] = sampling.encode_prompts(tok, requests([prompt]))
    [healed] = sampling.encode_prompts(tok, requests([prompt]), token_healing=True)
    assert (plain.prompt_ids, plain.heal, plain.allowed) == (ids, "", ())
    assert healed.prompt_ids == ids[:-1] and healed.heal == "\n"
    assert set(healed.allowed) == {
        i for i, s in enumerate(strings) if s.startswith(strings[ids[-1]])
    } - set(tok.all_special_ids)
    # A prompt that does not end in whitespace is left alone.
    [other] = sampling.encode_prompts(tok, requests(["def f(x):"]), token_healing=True)
    assert other.heal == "" and other.prompt_ids == list(tok("def f(x):").input_ids)


@pytest.mark.parametrize("params", [GREEDY, WARM], ids=["greedy", "sampled"])
def test_token_healing_first_token_gives_back_the_newline(
    tiny_dir: Path, params: SamplingParams
) -> None:
    healing = LocalBackend(tiny_dir, device="cpu", batch_size=8, token_healing=True)
    tok = healing.tokenizer
    prompt = PROMPTS[0]
    stop = SamplingParams(**{**params.__dict__, "stop": ("\n",)})
    for p in (params, stop):
        for s in draw(healing, requests([prompt], n=4), p).values():
            first = tok.convert_ids_to_tokens(s.token_ids[0])
            assert first.startswith(tok.convert_ids_to_tokens(tok(prompt).input_ids[-1]))
            full = tok.decode(list(s.token_ids), skip_special_tokens=True)
            assert full.startswith("\n")
            # The prompt's own newline is neither part of the completion nor a stop match.
            expected, _ = cut_at_stop(full[1:], p.stop)
            assert s.completion.text == expected
            assert "".join(s.completion.tokens).startswith(s.completion.text)
    # Greedy: the healed first token is the model's best among those that begin with "\n".
    healed_prompt = sampling.encode_prompts(tok, requests([prompt]), token_healing=True)[0]
    with torch.no_grad():
        logits = healing.model(torch.tensor([healed_prompt.prompt_ids])).logits[0, -1]
    best = max(healed_prompt.allowed, key=lambda i: logits[i].item())
    [greedy] = draw(healing, requests([prompt]), GREEDY).values()
    assert greedy.token_ids[0] == best


def test_finished_rows_riding_along_change_nothing(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Finished rows stay in the tensors until a quarter of the batch is done; whether they are
    # dropped at once (huge COMPACT_AT) or only when all are done (1), samples are the same.
    reqs = requests(PROMPTS[:3], n=4)
    params = SamplingParams(temperature=1.0, top_p=0.9, max_tokens=24, stop=("\n",))
    runs = {}
    for compact_at in (10**6, 1):
        monkeypatch.setattr(sampling, "COMPACT_AT", compact_at)
        trace: list[int] = []
        runs[compact_at] = (draw(backend, reqs, params, trace=trace), trace)
    (eager, eager_trace), (lazy, lazy_trace) = runs[10**6], runs[1]
    assert eager.keys() == lazy.keys()
    for key, sample in eager.items():
        assert lazy[key].token_ids == sample.token_ids
        assert lazy[key].completion.text == sample.completion.text
        assert lazy[key].logprobs == pytest.approx(sample.logprobs, abs=1e-5)
    # 12 rows in batches of 8 and 4 (batch_size 8): lazily, nobody left a batch early...
    assert set(lazy_trace) == {8, 4}
    assert set(eager_trace) - {8, 4}  # ...eagerly, rows left as they finished
