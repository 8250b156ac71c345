"""Judging programs on standard input and output: APPS's standard-input problems (Hendrycks et al.
2021), scored in the Codex paper's Table 2.

A stdio job is a program and a list of test cases (stdin, expected stdout). The sample's
process (`run_cases`, in the sandbox) compiles the program once and forks one process per case:
that process gets the case's input as its standard input (a memory file it may seek and re-read,
as a judge's input file), its own session and a CPU limit of its own (the job's timeout, 3 s by
default, as the paper's), and runs the program as `__main__`; its standard output goes straight
to the worker through the sample's output pipe, its standard error nowhere. After each case the
sample's process reports how the case ended (wait status, CPU seconds, the uncaught exception's
type and message) and waits for the worker's word to go on, so the worker can stop at the first
failing case. Neither the sample's process nor the program ever holds an expected output: the
worker keeps them and compares (`CaseJudge`), outside the sandboxed process tree, so `--mode io`
changes nothing for these jobs.

The comparison follows APPS's `eval/testing_util.py` in three steps (`outputs_match`), each more
lenient than the one before:
1. the output equals the expected output exactly;
2. line by line, with trailing whitespace (spaces, tabs, `\\r`) stripped from every line and
   empty lines at the end ignored;
3. token by token (whitespace-separated), where two tokens that both read as decimal numbers,
   one of them with a fraction or an exponent, are equal within numpy.allclose's default
   tolerance, the one APPS applies: |got - expected| <= 1e-8 + 1e-5 * |expected|; two integers
   are equal only as integers ("007" is 7).
APPS compares integers as floats too, which passes 1000001 for 1000000 (the relative tolerance),
and goes further in its last resort, comparing the *sets* of tokens of each line (so order and
repetition do not count) and numbers rounded to 3 decimals; passk keeps integers exact and the
tokens' order and count, as judges that take floating-point answers (Codeforces, AtCoder) do.

Verdicts name the first case (numbered from 1) that did not pass: `failed: WrongAnswer: case 2:
expected '3', got '4'`, `failed: ZeroDivisionError: case 1: division by zero`, `failed: Killed:
case 4: killed by signal SIGSEGV`, `failed: OutputLimitExceeded: case 1: ...`, `timed out: case 3`.
Only the standard library is used: the worker imports this module.
"""

from __future__ import annotations

import atexit
import builtins
import contextlib
import math
import os
import re
import resource
import signal
import sys
from collections.abc import Callable
from typing import Any, NoReturn

# numpy.allclose's defaults, which APPS's comparison of numbers uses
RELATIVE_TOLERANCE = 1e-5
ABSOLUTE_TOLERANCE = 1e-8
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"([+-]?)0*(\d+)")
_ERROR_LIMIT = 2048  # bytes of "Type\tmessage" a case's process reports
_SHOWN = 40  # characters of a line shown in a wrong answer's message
GO_ON, STOP = b"+", b"-"


# ---------------------------------------------------------------- the comparison


def outputs_match(got: str, expected: str) -> bool:
    """Whether a program's output is the expected output, as APPS compares (module docstring).

    >>> outputs_match("3\\n", "3\\n"), outputs_match("1 2  \\n\\n", "1 2\\n")
    (True, True)
    >>> outputs_match("0.3333333", "0.33333333333"), outputs_match("0.33", "0.3333")
    (True, False)
    >>> outputs_match("YES", "yes"), outputs_match("1 2", "2 1")
    (False, False)
    """
    if got == expected:
        return True
    if _lines(got) == _lines(expected):
        return True
    got_tokens, expected_tokens = got.split(), expected.split()
    return len(got_tokens) == len(expected_tokens) and all(
        map(_tokens_match, got_tokens, expected_tokens)
    )


def _lines(text: str) -> list[str]:
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def _tokens_match(got: str, expected: str) -> bool:
    if got == expected:
        return True
    if not (_NUMBER.fullmatch(got) and _NUMBER.fullmatch(expected)):
        return False
    got_integer, expected_integer = _integer(got), _integer(expected)
    if got_integer and expected_integer:
        return got_integer == expected_integer
    a, b = float(got), float(expected)
    if not (math.isfinite(a) and math.isfinite(b)):
        return False
    return abs(a - b) <= ABSOLUTE_TOLERANCE + RELATIVE_TOLERANCE * abs(b)


def _integer(token: str) -> tuple[str, str] | None:
    """(sign, digits) of an integer token, without "+" or leading zeros; as text, since int()
    refuses very long numbers."""
    found = _INTEGER.fullmatch(token)
    return None if found is None else (found.group(1).strip("+"), found.group(2))


def first_difference(got: str, expected: str) -> str:
    """Where a wrong answer first differs, for its verdict: the first line that differs.

    >>> first_difference("1\\n5\\n", "1\\n4\\n")
    "line 2: expected '4', got '5'"
    >>> first_difference("1\\n", "1\\n2\\n")
    "line 2: expected '2', got nothing"
    """
    got_lines, expected_lines = _lines(got), _lines(expected)
    for number in range(max(len(got_lines), len(expected_lines))):
        mine = got_lines[number] if number < len(got_lines) else None
        theirs = expected_lines[number] if number < len(expected_lines) else None
        if mine != theirs:
            shown = "nothing" if mine is None else repr(mine[:_SHOWN])
            wanted = "nothing" if theirs is None else repr(theirs[:_SHOWN])
            return f"line {number + 1}: expected {wanted}, got {shown}"
    return "the outputs are the same line by line"  # (never for outputs that do not match)


# ---------------------------------------------------------------- in the worker (trusted)


class CaseJudge:
    """The worker's side of one stdio job: the expected outputs, the output of the case that is
    running (capped), and the verdict once a case fails or the last one passes.

    A case's output is capped at the larger of the pool's output limit and twice its expected
    output plus 4 KB; the cap is known only here, so the program cannot learn from it how long
    an expected output is. Output past the cap fails the case at once.
    """

    def __init__(self, expected: list[str], output_limit: int, timeout: float) -> None:
        self.expected = expected
        self.timeout = timeout
        self.case = 0  # index of the case running now
        self.output = bytearray()
        self.verdict: dict[str, Any] | None = None
        self._limits = [max(output_limit, 2 * len(e.encode()) + 4096) for e in expected]

    @property
    def number(self) -> int:
        """The running case's number, from 1."""
        return self.case + 1

    def take_output(self, chunk: bytes) -> None:
        room = self._limits[self.case] - len(self.output) if self.case < len(self.expected) else 0
        self.output += chunk[: max(room, 0)]
        if len(chunk) > room and self.verdict is None:
            limit = self._limits[min(self.case, len(self.expected) - 1)] >> 10
            self.fail("OutputLimitExceeded", f"printed more than {limit} KB")

    def fail(self, error: str, message: str) -> None:
        self.verdict = {"outcome": "failed", "error": error, "message": self._at(message)}

    def time_out(self) -> None:
        self.verdict = {"outcome": "timed out", "message": f"case {self.number}"}

    def _at(self, message: str) -> str:
        return f"case {self.number}: {message}" if message else f"case {self.number}"

    def case_ended(self, status: int, cpu: float, error: str, message: str) -> bool:
        """Judge the running case from how its process ended and what it printed; True when the
        next case should run, False when the job is decided (self.verdict)."""
        if self.verdict is not None:
            return False
        if cpu > self.timeout:
            self.time_out()
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= self.timeout):
                self.time_out()
            else:
                self.fail("Killed", f"killed by signal {_signal_name(sig)}")
        elif error:
            self.fail(error, message)
        elif os.WEXITSTATUS(status) != 0:
            self.fail("ExitStatus", f"exited with status {os.WEXITSTATUS(status)}")
        else:
            got = self.output.decode("utf-8", "replace")
            if not outputs_match(got, self.expected[self.case]):
                self.fail("WrongAnswer", first_difference(got, self.expected[self.case]))
        if self.verdict is not None:
            return False
        self.case += 1
        self.output = bytearray()
        if self.case == len(self.expected):
            self.verdict = {"outcome": "passed"}
            return False
        return True

    def shown_output(self, limit: int) -> str:
        """What the verdict keeps of the output: the deciding case's, capped."""
        return bytes(self.output[:limit]).decode("utf-8", "replace")


def parse_case_report(line: str) -> tuple[int, int, float, str, str] | None:
    """(case index, wait status, CPU seconds, error type, message) of a report line, or None for
    a line that is not one (the program cannot write to the report pipe, but a broken report
    must not break the worker)."""
    fields = line.split("\t", 4)
    if len(fields) != 5:
        return None
    try:
        return int(fields[0]), int(fields[1]), float(fields[2]), fields[3], fields[4]
    except ValueError:
        return None


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


# ---------------------------------------------------------------- in the sample's process


def run_cases(job: dict[str, Any], clean: Callable[[str, int], str]) -> NoReturn:
    """In the sample's process (descriptors, limits and uid already set): run the program once
    per case, reporting each case's end on fd 3 and reading the worker's word to go on from
    fd 4. `clean` bounds a message to one printable line. Never returns."""
    write, read, exit_now = os.write, os.read, os._exit
    cpu = math.ceil(job["timeout"])
    code, compile_error = _compile(job["program"])
    _flush()
    for index, data in enumerate(job["inputs"]):
        stdin = _stdin_file(data)
        error_r, error_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(error_r)
            _run_case(code, compile_error, stdin, error_w, cpu)
        os.close(stdin)
        os.close(error_w)
        _, status, usage = os.wait4(pid, 0)
        with contextlib.suppress(OSError):
            os.killpg(pid, signal.SIGKILL)  # what the case left in its session
        error, _, message = _read_error(error_r).partition("\t")
        os.close(error_r)
        used = usage.ru_utime + usage.ru_stime
        line = f"{index}\t{status}\t{used:.6f}\t{clean(error, 100)}\t{clean(message, 300)}\n"
        _write_all(write, 3, line.encode("utf-8", "replace"))
        if read(4, 1) != GO_ON:
            break
    exit_now(0)


def _compile(program: str) -> tuple[Any, BaseException | None]:
    try:
        return compile(program, "<sample>", "exec"), None
    except BaseException as e:  # SyntaxError, ValueError (a null byte), RecursionError...
        return None, e


def _stdin_file(data: str) -> int:
    """A descriptor at the start of a file holding `data`: a memory file where the kernel has
    them, else an unlinked file in the work directory."""
    try:
        fd = os.memfd_create("stdin", os.MFD_CLOEXEC)
    except (AttributeError, OSError):
        name = f".stdin-{os.getpid()}"
        fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        os.unlink(name)
    _write_all(os.write, fd, data.encode("utf-8", "surrogateescape"))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def _run_case(
    code: Any, compile_error: BaseException | None, stdin: int, error_w: int, cpu: int
) -> NoReturn:
    """In one case's process: standard input from `stdin`, standard error nowhere, a session and
    a CPU limit of its own; run the program as `__main__` and end as a Python process would."""
    write, exit_now = os.write, os._exit
    try:
        os.setsid()
        os.dup2(stdin, 0)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        error_fd = os.dup2(error_w, 5)  # numbered past the report pipes, which are closed
        os.closerange(3, 5)
        os.closerange(6, 1 << 16)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        _fresh_std_streams()
    except BaseException:
        exit_now(71)
    status, error = 0, ""
    try:
        if compile_error is not None:
            raise compile_error
        exec(code, {"__name__": "__main__", "__builtins__": builtins})
        _end_interpreter()
    except SystemExit as e:
        status = _exit_status(e.code)
    except BaseException as e:
        status, error = 1, _describe(e)
    _flush()
    if error:
        with contextlib.suppress(OSError):
            write(error_fd, error.encode("utf-8", "replace")[:_ERROR_LIMIT])
    exit_now(status)


def _fresh_std_streams() -> None:
    """Standard streams on descriptors 0-2, as a new interpreter has them (UTF-8 with
    surrogateescape, as under the worker's C.UTF-8 locale)."""
    opened = [
        open(fd, mode, encoding="utf-8", errors="surrogateescape", closefd=False)  # noqa: SIM115
        for fd, mode in ((0, "r"), (1, "w"), (2, "w"))
    ]
    sys.stdin, sys.stdout, sys.stderr = opened
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = opened  # type: ignore[misc,assignment]


def _end_interpreter() -> None:
    """What an interpreter does when its main module ends: wait for the threads it started (a
    common way to get a deeper stack), then run the exit handlers."""
    threading = sys.modules.get("threading")
    if threading is not None:
        threading._shutdown()
    atexit._run_exitfuncs()


def _exit_status(code: object) -> int:
    """The exit status `sys.exit(code)` gives: 0 for None, the number, or 1 for a message."""
    if code is None:
        return 0
    if isinstance(code, int) and not isinstance(code, bool):
        return code & 0xFF
    return 1


def _describe(e: BaseException) -> str:
    try:
        name, message = type(e).__name__, str(e)
    except BaseException:
        return "BaseException\t<unprintable>"
    if not (isinstance(name, str) and isinstance(message, str)):
        return "BaseException\t<unprintable>"
    return f"{name}\t{message[:_ERROR_LIMIT]}"


def _read_error(fd: int) -> str:
    """What the case's process reported of its exception, bounded; it has ended, but a process
    it left may still hold the pipe, so never wait."""
    os.set_blocking(fd, False)
    with contextlib.suppress(OSError):
        return os.read(fd, _ERROR_LIMIT).decode("utf-8", "replace")
    return ""


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        with contextlib.suppress(BaseException):
            stream.flush()  # type: ignore[union-attr]


def _write_all(write: Callable[[int, bytes], int], fd: int, data: bytes) -> None:
    while data:
        data = data[write(fd, data) :]
