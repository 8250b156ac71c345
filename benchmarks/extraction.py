"""Answer extraction: passk's rules against EvalPlus's sanitizer, on the fixture set of chat answers.

Each answer of tests/data/chat_answers.jsonl (realistic chat answers to HumanEval problems,
each with the program it should become, or no program) is turned into a program twice:

  passk     `passk.generation.extraction.extract` (a completion or a whole-program solution,
            or a failure: NoCode, Truncated, ReasoningOnly)
  EvalPlus  `evalplus.sanitize.sanitize(answer, entry_point)`, as `evalplus.codegen` applies it
            to a chat model's answer, run as a whole-program solution

and every program runs against HumanEval's tests in passk's sandbox. The comparison is by
behaviour: an extraction is right when its program passes exactly when the expected program
does (no program counts as failing, as does the expected outcome of an answer with no code).
It also counts the answers each turns into empty code with no word of why, the silent zeros.

EvalPlus is never a passk dependency: install it into a scratch virtual environment and point
the script at its interpreter. From the repository root:

    python3 -m venv /tmp/evalplus-venv && /tmp/evalplus-venv/bin/pip install evalplus
    .venv/bin/python benchmarks/extraction.py [--evalplus-python /tmp/evalplus-venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from passk.benchmarks import Benchmark, get_benchmark
from passk.execution.pool import Job, WorkerPool
from passk.generation.extraction import extract

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "data" / "chat_answers.jsonl"

# Run in EvalPlus's environment: one sanitized program per answer, in order.
SANITIZE = """
import json, sys
from evalplus.sanitize import sanitize
cases = json.load(sys.stdin)
print(json.dumps([sanitize(c["answer"], c["entry_point"]) for c in cases]))
"""


@dataclass
class Tally:
    right: int = 0
    silent_empty: int = 0  # empty code, no reason given
    reasoned_empty: int = 0  # no code, with a failure saying why
    wrong: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--evalplus-python", default="/tmp/evalplus-venv/bin/python")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    bench = get_benchmark("humaneval")
    cases = [json.loads(line) for line in FIXTURES.read_text().splitlines()]
    passk_programs, passk_failures = passk_extract(bench, cases)
    evalplus_code = evalplus_sanitize(args.evalplus_python, bench, cases)
    evalplus_programs = [
        bench.problems[c["task_id"]].program(code, is_solution=True)
        for c, code in zip(cases, evalplus_code, strict=True)
    ]
    verdicts = run_all(bench, passk_programs + evalplus_programs, args.workers)
    expected = [bool(c["expected"].get("passes")) for c in cases]
    passk = tally(cases, expected, verdicts[: len(cases)], passk_programs, passk_failures)
    evalplus = tally(cases, expected, verdicts[len(cases) :], evalplus_code, [False] * len(cases))
    report(len(cases), passk, evalplus)


def passk_extract(
    bench: Benchmark, cases: list[dict[str, Any]]
) -> tuple[list[str | None], list[bool]]:
    programs: list[str | None] = []
    failures = []
    for case in cases:
        problem = bench.problems[case["task_id"]]
        e = extract(
            problem,
            case["answer"],
            reasoning=case["reasoning"],
            finish_reason=case["finish_reason"],
        )
        programs.append(None if e.failure else problem.program(e.text, is_solution=e.is_solution))
        failures.append(e.failure is not None)
    return programs, failures


def evalplus_sanitize(python: str, bench: Benchmark, cases: list[dict[str, Any]]) -> list[str]:
    if not Path(python).exists():
        sys.exit(f"{python} not found: install EvalPlus into a scratch venv (see the docstring)")
    payload = [
        {"answer": c["answer"], "entry_point": bench.problems[c["task_id"]].entry_point}
        for c in cases
    ]
    run = subprocess.run(
        [python, "-c", SANITIZE], input=json.dumps(payload), capture_output=True, text=True
    )
    if run.returncode != 0:
        sys.exit(f"EvalPlus's sanitizer failed:\n{run.stderr[-2000:]}")
    return list(json.loads(run.stdout))


def run_all(bench: Benchmark, programs: list[str | None], workers: int) -> list[bool]:
    """Whether each program passes HumanEval's tests; None (no program) fails."""
    passed = [False] * len(programs)
    jobs = [Job(i, p) for i, p in enumerate(programs) if p is not None]
    with WorkerPool(workers, preimports=bench.preimports) as pool:
        for index, verdict in pool.run(jobs):
            passed[index] = verdict.passed
    return passed


def tally(
    cases: list[dict[str, Any]],
    expected: list[bool],
    passed: list[bool],
    code: list[str | None],
    failed: list[bool],
) -> Tally:
    t = Tally()
    for case, want, got, text, failure in zip(cases, expected, passed, code, failed, strict=True):
        if want == got:
            t.right += 1
        else:
            t.wrong.append(case["id"])
        if failure:
            t.reasoned_empty += 1
        elif text is None or not text.strip():
            t.silent_empty += 1
            t.empty.append(case["id"])
    return t


def report(count: int, passk: Tally, evalplus: Tally) -> None:
    print(f"{count} chat answers to HumanEval problems ({FIXTURES.relative_to(ROOT)})")
    print("right = the program passes HumanEval's tests exactly when the expected program does")
    print(f"{'':10} {'right':>7} {'empty, no reason':>17} {'no code, reason given':>22}")
    for name, t in (("passk", passk), ("EvalPlus", evalplus)):
        print(f"{name:10} {t.right:>7} {t.silent_empty:>17} {t.reasoned_empty:>22}")
    for name, t in (("passk", passk), ("EvalPlus", evalplus)):
        print(f"{name} wrong on: {', '.join(t.wrong) or 'none'}")
        print(f"{name} empty on: {', '.join(t.empty) or 'none'}")


if __name__ == "__main__":
    main()
