"""Figure 7's ranking curves: exact values by hand, against brute force, and bad inputs."""

from __future__ import annotations

import argparse
import contextlib
import io
import itertools
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest

from passk.analysis.ranking import rank_curves, ranked_pass_rate
from passk.cli import rank_command
from passk.cli.options import k_list
from passk.errors import InputError
from passk.metrics import estimate_pass_at_k


def rows_of(task_id: str, samples: list[tuple[bool, float]]) -> list[dict[str, Any]]:
    return [
        {"task_id": task_id, "completion_id": i, "passed": p, "mean_logp": s, "sum_logp": 2 * s}
        for i, (p, s) in enumerate(samples)
    ]


def curve(result: dict[str, Any], name: str) -> list[float]:
    return [v for _, v in result["curves"][name]]


def brute_force(scores: list[float], passed: list[bool], k: int) -> float:
    """Average over every k-subset, and over the tied top members of each, of passed."""
    total = 0.0
    subsets = list(itertools.combinations(range(len(scores)), k))
    for subset in subsets:
        best = max(scores[i] for i in subset)
        top = [i for i in subset if scores[i] == best]
        total += sum(passed[i] for i in top) / len(top)
    return total / len(subsets)


def test_best_scored_passes_so_ranking_reaches_one_at_k_equal_n() -> None:
    result = rank_curves(rows_of("a", [(False, -1.0), (True, -0.1), (False, -2.0), (False, -3.0)]))
    assert result["ks"] == [1, 2, 3, 4]
    # The top sample is in a random k-subset with probability k/4.
    assert curve(result, "mean_logp") == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert curve(result, "random") == pytest.approx([0.25] * 4)
    assert curve(result, "oracle") == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert result["skipped"] == {}


def test_best_scored_fails() -> None:
    # Ranks: 1 fails, 2 passes, 3 passes, 4 fails. P(rank r is top) = C(4-r, k-1)/C(4, k).
    result = rank_curves(rows_of("a", [(False, 0.0), (True, -1.0), (True, -2.0), (False, -3.0)]))
    expected = [0.5, 2 / 6 + 1 / 6, 1 / 4, 0.0]
    assert curve(result, "mean_logp") == pytest.approx(expected)
    assert curve(result, "sum_logp") == pytest.approx(expected)
    assert curve(result, "oracle") == pytest.approx([0.5, 5 / 6, 1.0, 1.0])


def test_ties_split_evenly() -> None:
    # Two tied at the top, one passing: at k=4 both are in, each picked half the time.
    result = rank_curves(rows_of("a", [(True, -0.5), (False, -0.5), (True, -1.0), (False, -2.0)]))
    # k=2: top in the tie group unless subset = {3rd, 4th} (then the passing 3rd):
    # (1 - 1/6) * 1/2 + 1/6.
    assert curve(result, "mean_logp") == pytest.approx([0.5, 7 / 12, 0.5, 0.5])


def test_problems_are_averaged() -> None:
    rows = rows_of("a", [(True, 0.0), (False, -1.0)]) + rows_of("b", [(False, 0.0), (False, -1.0)])
    result = rank_curves(rows)
    assert result["problems"] == 2 and result["samples"] == 4
    assert curve(result, "mean_logp") == pytest.approx([0.25, 0.5])
    assert curve(result, "oracle") == pytest.approx([0.25, 0.5])


@pytest.mark.parametrize("seed", range(25))
def test_exact_against_every_subset(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 8)
    scores = [float(rng.choice([-3, -2, -1, 0])) for _ in range(n)]  # ties on purpose
    passed = [rng.random() < 0.5 for _ in range(n)]
    for k in range(1, n + 1):
        assert ranked_pass_rate(scores, passed, k) == pytest.approx(
            brute_force(scores, passed, k), abs=1e-12
        )


def test_random_is_pass_at_1_and_oracle_is_pass_at_k() -> None:
    rng = random.Random(7)
    rows: list[dict[str, Any]] = []
    counts = []
    for t in range(5):
        passed = [rng.random() < 0.3 for _ in range(10)]
        counts.append(sum(passed))
        rows += rows_of(f"t{t}", [(p, rng.random()) for p in passed])
    result = rank_curves(rows, ks=[1, 3, 10])
    assert result["ks"] == [1, 3, 10]
    pass1 = sum(counts) / 50
    assert curve(result, "random") == pytest.approx([pass1] * 3)
    oracle = [estimate_pass_at_k(10, counts, k).mean() for k in (1, 3, 10)]
    assert curve(result, "oracle") == pytest.approx(oracle)


def test_large_n_stays_finite() -> None:
    rng = random.Random(1)
    rows = rows_of("a", [(rng.random() < 0.1, rng.random()) for _ in range(1000)])
    result = rank_curves(rows, ks=[1, 500, 1000])
    for name in ("mean_logp", "oracle"):
        assert all(0.0 <= v <= 1.0 for v in curve(result, name))
    assert curve(result, "mean_logp")[-1] == float(
        rows[max(range(1000), key=lambda i: rows[i]["mean_logp"])]["passed"]
    )


def test_missing_logp_is_skipped_with_a_reason() -> None:
    rows = rows_of("a", [(True, 0.0), (False, -1.0)])
    for row in rows:
        del row["sum_logp"]
    del rows[0]["mean_logp"]
    result = rank_curves(rows)
    assert set(result["curves"]) == {"random", "oracle"}
    assert result["skipped"] == {
        "mean_logp": "mean_logp missing for 1 of 2 samples: ranking by it needs samples from "
        "passk generate (or any source that records mean_logp)",
        "sum_logp": "sum_logp missing for 2 of 2 samples: ranking by it needs samples from "
        "passk generate (or any source that records sum_logp)",
    }


def test_empty_completion_ranks_last_by_mean_logp() -> None:
    # An empty completion has no mean log-probability; it ranks below every scored sample.
    rows = rows_of("a", [(True, -1.0), (False, -2.0), (True, 0.0)])
    rows[2].update(mean_logp=None, num_tokens=0)
    result = rank_curves(rows)
    assert result["skipped"] == {}
    assert curve(result, "mean_logp") == pytest.approx(
        [brute_force([-1.0, -2.0, -math.inf], [True, False, True], k) for k in (1, 2, 3)]
    )


def test_any_score_ranks() -> None:
    rows = rows_of("a", [(False, 0.0), (True, -1.0)])
    result = rank_curves(rows, scores={"shortest": lambda row: -row["completion_id"]})
    assert curve(result, "shortest") == pytest.approx([0.5, 0.0])
    assert set(result["curves"]) == {"random", "oracle", "shortest"}


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "results: no results to rank"),
        (
            [{"task_id": "a", "completion": "x"}],
            "results:1: no boolean 'passed'; rank a results file from passk evaluate",
        ),
        ([{"passed": True}], "results:1: no 'task_id'; expected a results row"),
        ([{"task_id": "a", "passed": True, "mean_logp": "x"}], "a: mean_logp is 'x', not a number"),
        (
            [{"task_id": "a", "passed": True, "mean_logp": float("nan")}],
            "a: a sample's mean_logp is NaN; ranking needs a number",
        ),
    ],
)
def test_bad_rows(rows: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(InputError) as info:
        rank_curves(rows)
    assert str(info.value) == message


def test_bad_ks() -> None:
    rows = rows_of("a", [(True, 0.0), (False, -1.0)])
    with pytest.raises(InputError, match=r"^--k: 3 exceeds the 2 samples of a$"):
        rank_curves(rows, ks=[3])
    with pytest.raises(InputError, match=r"^--k: 0 is not a positive sample count$"):
        rank_curves(rows, ks=[0])
    with pytest.raises(argparse.ArgumentTypeError, match=r"^expected comma-separated integers"):
        k_list("1,x")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"results.jsonl: no such file$"):
        rank_curves(tmp_path / "results.jsonl")


def run_rank(argv: list[str]) -> str:
    parser = argparse.ArgumentParser()
    rank_command.register(parser.add_subparsers())
    args = parser.parse_args(["rank", *argv])
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setenv("COLUMNS", "1000")
        assert args.handler(args) == 0
    return out.getvalue()


def test_cli_writes_ranking_json_into_run_dir(tmp_path: Path) -> None:
    rows = rows_of("a", [(False, -1.0), (True, -0.1), (False, -2.0), (False, -3.0)])
    for row in rows:
        del row["sum_logp"]
    (tmp_path / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = run_rank([str(tmp_path), "--k", "1,4"])
    lines = [line.split() for line in out.splitlines()]
    assert ["k", "random", "%", "oracle", "%", "mean_logp", "%"] in lines
    assert ["1", "25.00", "25.00", "25.00"] in lines
    assert ["4", "25.00", "100.00", "100.00"] in lines
    assert "skipped sum_logp: sum_logp missing for 4 of 4 samples" in out
    saved = json.loads((tmp_path / "ranking.json").read_text())
    assert saved["curves"]["mean_logp"] == [[1, 0.25], [4, 1.0]]
    other = tmp_path / "elsewhere.json"
    run_rank([str(tmp_path / "results.jsonl"), "--json", str(other)])
    assert json.loads(other.read_text())["ks"] == [1, 2, 3, 4]
