"""What running one sample gave: the verdict, carrying one of the closed set of outcomes."""

from __future__ import annotations

from dataclasses import dataclass

from passk.outcome import Outcome, format_result


@dataclass(frozen=True)
class Verdict:
    """The judgement on one sample, with what was measured while it ran."""

    outcome: Outcome
    error: str = ""  # the exception type for FAILED, e.g. "AssertionError"
    message: str = ""
    wall_s: float = 0.0
    cpu_s: float = 0.0
    output: str = ""  # stdout and stderr, merged and capped

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    @property
    def result(self) -> str:
        """The official harness's `result` string: 'passed', 'timed out' or 'failed: ...'.

        >>> Verdict(Outcome.FAILED, "AssertionError").result
        'failed: AssertionError'
        >>> Verdict(Outcome.FAILED, "NameError", "name 'x' is not defined").result
        "failed: NameError: name 'x' is not defined"
        """
        return format_result(self.outcome, self.error, self.message)
