"""What running one sample gave: a closed set of outcomes, and the verdict that carries one."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Outcome(enum.Enum):
    """How a sample's run ended. Only PASSED counts towards pass@k."""

    PASSED = "passed"
    FAILED = "failed"  # an exception, an early exit, a signal
    TIMED_OUT = "timed out"  # past the CPU-time limit or the wall-clock limit
    ERROR = "error"  # the harness could not run the sample (not the sample's fault)


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
        if self.outcome in (Outcome.PASSED, Outcome.TIMED_OUT):
            return self.outcome.value
        detail = f"{self.error}: {self.message}" if self.message else self.error
        return f"{self.outcome.value}: {detail}"
