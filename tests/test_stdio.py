"""Tests for judging programs on standard input and output (passk.execution.stdio).

Programs run in a real worker pool under every sandbox mode the machine gives (gVisor where
`runsc` works); verdicts name the first case that did not pass and how. The comparison rules
are tested apart, on strings.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from passk.errors import InputError
from passk.execution import Job, Limits, Verdict, WorkerPool
from passk.execution.sandbox import SandboxUnavailable, choose_sandbox
from passk.execution.stdio import first_difference, outputs_match

LIMITS = Limits(timeout=1.0, wall_timeout=3.0)
SUM_CASES = (("1 2\n", "3\n"), ("5 5\n", "10\n"), ("7 0\n", "7\n"))
SUM = "a, b = map(int, input().split())\nprint(a + b)\n"


@pytest.fixture(scope="module", params=["native", "bwrap", "gvisor", "none"])
def pool(request: pytest.FixtureRequest) -> Iterator[WorkerPool]:
    try:
        box = choose_sandbox(request.param)
    except SandboxUnavailable as e:
        pytest.skip(str(e))
    with WorkerPool(2, limits=LIMITS, sandbox=box) as p:
        yield p


def judge(
    pool: WorkerPool, program: str, cases: tuple[tuple[str, str], ...] = SUM_CASES
) -> Verdict:
    [(_, verdict)] = list(pool.run([Job(0, program, mode="stdio", cases=cases)]))
    return verdict


PROGRAMS = {
    "correct": (SUM, "passed"),
    "extra trailing spaces and lines": (
        "a, b = map(int, input().split())\nprint(a + b, '  ')\nprint()\nprint()\n",
        "passed",
    ),
    "reads too little input": (
        "import sys\nprint(sum(map(int, sys.stdin.readline().split()[:2])))\n",
        "passed",
    ),
    "reads it all at once": (
        "import sys\nprint(sum(map(int, sys.stdin.read().split())))\n",
        "passed",
    ),
    "calls exit() at the end": (SUM + "exit()\n", "passed"),
    "answers in a thread it does not join": (
        "import threading\n"
        "def main():\n    a, b = map(int, input().split())\n    print(a + b)\n"
        "threading.Thread(target=main).start()\n",
        "passed",
    ),
    "wrong answer on case 2": (
        "a, b = map(int, input().split())\nprint(a + b if a != 5 else 11)\n",
        "failed: WrongAnswer: case 2: line 1: expected '10', got '11'",
    ),
    "crash on case 3": (
        "a, b = map(int, input().split())\nprint(a // b * b + a % b + b)\n",
        "failed: ZeroDivisionError: case 3: integer division or modulo by zero",
    ),
    "reads more than there is": (
        SUM + "input()\n",
        "failed: EOFError: case 1: EOF when reading a line",
    ),
    "exits with status 3": (
        SUM + "import sys\nsys.exit(3)\n",
        "failed: ExitStatus: case 1: exited with status 3",
    ),
    "does not parse": (
        "print(\n",
        "failed: SyntaxError: case 1: '(' was never closed (<sample>, line 1)",
    ),
    "infinite loop on case 2": (
        "a, b = map(int, input().split())\nwhile a == 5:\n    pass\nprint(a + b)\n",
        "timed out: case 2",
    ),
    "sleeps on case 3": (
        "import time\na, b = map(int, input().split())\nif b == 0:\n    time.sleep(60)\nprint(a + b)\n",
        "timed out: case 3",
    ),
    "prints forever": (
        "while True:\n    print('x' * 1000)\n",
        "failed: OutputLimitExceeded: case 1: printed more than 64 KB",
    ),
    "kills itself": (
        "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n",
        "failed: Killed: case 1: killed by signal SIGSEGV",
    ),
}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_programs_get_their_verdicts(pool: WorkerPool, name: str) -> None:
    program, result = PROGRAMS[name]
    assert judge(pool, program).result == result


def test_each_case_has_its_own_cpu_limit(pool: WorkerPool) -> None:
    """Three cases of 0.6 s CPU each pass a 1 s limit: the limit is per case, not per program."""
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6:\n    pass\n"
    verdict = judge(pool, burn + SUM)
    assert verdict.result == "passed"
    assert verdict.cpu_s > 1.5


def test_the_output_of_every_case_is_its_own(pool: WorkerPool) -> None:
    """A case's output is judged alone: printing case 1's answer again in case 2 fails it."""
    leftover = (
        "import os, sys\na, b = map(int, input().split())\n"
        "if os.path.exists('seen'):\n    print(3)\nopen('seen', 'w').close()\nprint(a + b)\n"
    )
    assert (
        judge(pool, leftover).result
        == "failed: WrongAnswer: case 2: line 1: expected '10', got '3'"
    )


def test_large_input_and_output_pass(pool: WorkerPool) -> None:
    numbers = list(range(200_000))
    case = (" ".join(map(str, numbers)) + "\n", "\n".join(str(2 * n) for n in numbers) + "\n")
    program = "import sys\nprint('\\n'.join(str(2 * int(x)) for x in sys.stdin.read().split()))\n"
    assert judge(pool, program, (case,)).passed


HUNT = r"""
import gc, os, re, sys
pattern = re.compile(rb"sekrit-[0-9a-f]{32}")
found = set()
def look(data):
    found.update(m.decode() for m in pattern.findall(data))
for obj in gc.get_objects():  # every object of this process, the stack's frames' too
    if isinstance(obj, (str, bytes)):
        look(obj.encode("utf-8", "replace") if isinstance(obj, str) else obj)
    elif isinstance(obj, dict):
        look(repr(obj).encode("utf-8", "replace"))
frame = sys._getframe()
while frame is not None:
    look(repr(frame.f_locals).encode("utf-8", "replace"))
    frame = frame.f_back
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    for name in ("cmdline", "environ"):
        try:
            look(open(f"/proc/{pid}/{name}", "rb").read())
        except OSError:
            pass
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb")
    except OSError:
        continue
    for line in maps:
        span, perms = line.split()[:2]
        start, end = (int(x, 16) for x in span.split("-"))
        if "r" in perms and end - start < 1 << 28:
            try:
                mem.seek(start)
                look(mem.read(end - start))
            except (OSError, ValueError, OverflowError):
                pass
for top in ("/tmp", "/dev/shm", ".", "/run", "/var/tmp"):
    for root, dirs, files in os.walk(top):
        for name in files:
            try:
                look(open(os.path.join(root, name), "rb").read(1 << 20))
            except OSError:
                pass
input()
print(sorted(found)[0] if found else "nothing found")
"""


@pytest.mark.parametrize("mode", ["native", "bwrap", "gvisor"])
def test_a_program_cannot_find_the_expected_output(mode: str) -> None:
    """The expected output lives only in the worker (and the pool): a program that searches its
    own memory and stack, every process's memory, environment and command line it can open,
    and the files it can reach, finds nothing to print."""
    try:
        box = choose_sandbox(mode)
    except SandboxUnavailable as e:
        pytest.skip(str(e))
    secret = f"sekrit-{secrets.token_hex(16)}"
    cases = (("question\n", secret + "\n"),)
    with WorkerPool(1, limits=Limits(timeout=20.0, wall_timeout=60.0), sandbox=box) as pool:
        [(_, verdict)] = list(pool.run([Job(0, HUNT, mode="stdio", cases=cases)]))
    assert verdict.result.startswith("failed: WrongAnswer: case 1: line 1: expected "), verdict
    assert secret not in verdict.output
    assert verdict.output == "nothing found\n"


def test_a_stdio_job_is_checked() -> None:
    with pytest.raises(InputError, match="a stdio job needs test cases"):
        Job(0, "print(1)", mode="stdio")
    with pytest.raises(InputError, match="a stdio job needs test cases"):
        Job(0, "print(1)", cases=(("", "1\n"),))
    with pytest.raises(InputError, match="--mode must be one of assert, io"):
        Job(0, "print(1)", mode="fast")


@pytest.mark.parametrize(
    ("got", "expected", "match"),
    [
        ("3\n", "3\n", True),
        ("3", "3\n", True),  # a missing final newline
        ("1 2   \n3\t\n\n\n", "1 2\n3\n", True),  # trailing whitespace, empty lines at the end
        ("3\r\n", "3\n", True),
        ("1\n2 3", "1 2\n3\n", True),  # the same tokens, laid out otherwise
        ("0.500000", "0.5", True),
        ("0.3333333", "0.33333333333", True),  # within 1e-5 relative
        ("100000.5", "100000", True),  # 0.5 <= 1e-8 + 1e-5 * 100000
        ("100002.0", "100000", False),
        ("1000001", "1000000", False),  # integers are exact (APPS's floats would pass this)
        ("007 +3", "7 3", True),
        ("-0", "0", False),
        ("0.0000001", "0", False),  # 1e-7 > 1e-8 absolute
        ("1e3", "1000", True),
        ("2 1", "1 2", False),  # order counts
        ("1 2 2", "1 2", False),  # so does repetition
        ("YES", "yes", False),
        ("nan", "nan", True),  # equal as text
        ("inf", "1e400", False),
        ("1_000", "1000", False),  # Python's literal syntax is not a number here
        ("", "", True),
        ("", "0\n", False),
        ("  3\n", "3\n", True),  # leading whitespace: equal as tokens
    ],
)
def test_outputs_are_compared_as_apps_does(got: str, expected: str, match: bool) -> None:
    assert outputs_match(got, expected) is match


def test_a_wrong_answer_says_where() -> None:
    assert first_difference("a\nb\n", "a\nc\n") == "line 2: expected 'c', got 'b'"
    assert first_difference("a\nb\n", "a\n") == "line 2: expected nothing, got 'b'"
    assert first_difference("0.3\n", "0.4\n") == "line 1: expected '0.4', got '0.3'"
