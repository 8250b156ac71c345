"""The model passk ships (models/passk-tiny): it loads, and its completions end where they should.

A smoke test only: the model card's HumanEval figures come from the full runs that
scripts/default_model.sh makes, not from the test suite.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from passk.benchmarks.humaneval import STOP_SEQUENCES
from passk.generation.local import LocalBackend
from passk.generation.types import SampleRequest, SamplingParams
from passk.pipeline import default_model


@pytest.fixture(scope="module")
def model() -> LocalBackend:
    return LocalBackend(default_model(), device="cpu", batch_size=8)


def test_shipped_model_is_a_small_llama(model: LocalBackend) -> None:
    path = default_model()
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "llama" and config["tie_word_embeddings"] is True
    assert (path / "model.safetensors").stat().st_size <= 60 * 2**20
    assert model.max_context() == 1024
    assert model.model_id == "passk-tiny"


def test_greedy_completion_of_a_humaneval_prompt(model: LocalBackend, humaneval) -> None:
    problem = humaneval.problems["HumanEval/23"]  # strlen
    params = SamplingParams(temperature=0, max_tokens=64, stop=STOP_SEQUENCES)
    [(_, completion)] = list(
        model.generate([SampleRequest(problem.task_id, 0, problem.prompt, 0)], params)
    )
    # Token healing gives back the prompt's last newline, so the body starts indented...
    assert completion.text.startswith("    ")
    assert completion.text.splitlines()[0] == "    return len(string)"
    # ...and it ends before the next top-level statement: no stop sequence inside.
    assert not any(stop in completion.text for stop in STOP_SEQUENCES)
    assert completion.finish_reason == "stop"
    assert completion.mean_logp is not None and completion.mean_logp < 0


def test_sampled_completions_are_cut_at_stop_sequences(model: LocalBackend, humaneval) -> None:
    problem = humaneval.problems["HumanEval/0"]
    params = SamplingParams(temperature=0.8, top_p=0.95, max_tokens=96, stop=STOP_SEQUENCES)
    requests = [SampleRequest(problem.task_id, i, problem.prompt, 100 + i) for i in range(8)]
    for _, completion in model.generate(requests, params):
        assert not any(stop in completion.text for stop in STOP_SEQUENCES)
        assert completion.num_tokens <= 96
        assert len(completion.token_logprobs) == completion.num_tokens


def test_the_reproduction_script_refuses_an_unknown_stage_before_any_work(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parent.parent / "scripts" / "default_model.sh"
    work = tmp_path / "work"
    done = subprocess.run(
        ["bash", str(script), "mine", "nope"],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PASSK": "false", "WORK": str(work)},
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == (
        "default_model.sh: unknown stage 'nope' (corpus tokenizer tokens train install samples "
        "evaluate mine finetune docstring)\n"
    )
    assert not work.exists()  # `mine`, named first, never ran
