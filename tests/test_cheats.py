"""Cheats against HumanEval grading, judged by `passk.evaluate` in both verdict modes.

Every cheat is a HumanEval-style completion for a real HumanEval problem that does NOT compute
the right answer but tries to make the verdict say "passed". Each is written to a samples JSONL
and judged with `passk.evaluate(...)` in the default sandbox in assert mode (the paper's: prompt,
completion, test and `check(entry_point)` run in one process) and in io mode (a trusted judge
runs the test and calls the sandboxed solution with plain data).

Harness-level cheats: assert mode must stop them, and does, because the child reports through
fd 3 with a per-job token and the verdict needs that report AND exit status 0: `sys.exit(0)` /
`raise SystemExit(0)` / `KeyboardInterrupt` (caught, reported as failures), `os._exit(0)` before
the report (EarlyExit), an atexit hook (the child ends with os._exit, hooks never run),
SIGKILL to itself (Killed), "passed" lines written to every fd 0-20 (no token, no pass),
redefining `check` (the test comes after the completion and redefines it; rebinding it while it
runs changes nothing), replacing `builtins.AssertionError` (the assert statement raises the C
type, not the builtin name), patching `json` (the report is built with str methods), and
gc-walking to `check` to replace its `__code__` (the running frame keeps the old code).

Returning something that is not plain data — an object whose `__eq__` is always true
(HumanEval/0's `== True`), an int/float subclass with always-true `__eq__` and a `__sub__` that
gives 0, or an object whose `__sub__`/`__abs__` defeat `abs(x - y) < 1e-6` (HumanEval/2) —
fails in both modes: io mode cannot carry it, and in assert mode the candidate the test calls
checks what the completion's function returns (`codec.check_plain`) before the test sees it.

In-process cheats assert mode CANNOT stop, by design: the completion runs in the test's own
process, with the official harness's semantics, so it can reach everything the test uses.
These are marked as strict xfails in assert mode ("limitation: ..."), and io mode must stop
every one of them (strict assertion):
- reading the expected value from the caller's frame: the next LOAD_CONST after the call in
  `sys._getframe(1).f_code` (HumanEval/0), or `f_locals["str"]` (HumanEval/38);
- patching `builtins.abs` (HumanEval/2) or `math.fabs` (HumanEval/32), or redefining the
  prompt's helper `poly` that HumanEval/32's test evaluates the answer with;
- a `sys.settrace` hook that sets `f_lineno` to jump over every line calling `candidate`;
- stealing the per-job report token from the harness's frames (the `token` local of
  `run_sample`), writing a forged passing report to fd 3, then `os._exit(0)`.
(`unittest` is not patched: no HumanEval test uses it; `math.fabs` is the same attack.)

Once found, now regression tests: in io mode a solution walking up its own stack found the
worker's `job` dict with the problem's `test` source (the solution process now forgets it before
any of its code runs); a string of two surrogate code points passed for the astral character
they pair into; a correct int of more than 4300 digits failed; a solution that killed itself
with SIGKILL was reported as "timed out".

Speed: one evaluation per mode over all cheats and the other samples here, and one per mode
over the 164 canonical solutions, each with 2 workers.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import passk
from passk.benchmarks import Benchmark, get_benchmark
from passk.execution import Job, Limits, WorkerPool
from passk.execution.options import ExecutionOptions
from passk.execution.sandbox import choose_sandbox

MODES = ("assert", "io")
LIMITS = Limits(timeout=2.0, wall_timeout=3.0)  # the sleeper costs one wall limit per mode
WORKERS = 2
AUTO_SANDBOX = choose_sandbox("auto").mode


@dataclass(frozen=True)
class Case:
    """One sample and what each mode must say about it.

    `assert_result` / `io_result`: the start the `result` string must have, "" for any failure;
    None in assert mode marks a known limitation (`limitation` says why): the cheat passes.
    """

    name: str
    task_id: str
    completion: str
    assert_result: str | None
    io_result: str
    limitation: str = ""


NOT_PLAIN = "failed: TypeError: the solution returned something that is not plain data"
EARLY_EXIT = "failed: EarlyExit: exited with status 0 before the tests finished"

# ---------------------------------------------------------------- harness-level cheats

HARNESS_CHEATS = [
    Case(
        "sys.exit(0) at module level",
        "HumanEval/0",
        "    return False\n\n\nimport sys\nsys.exit(0)\n",
        assert_result="failed: SystemExit: 0",
        io_result="failed: RuntimeError: SystemExit: 0",
    ),
    Case(
        "os._exit(0) at module level",
        "HumanEval/0",
        "    return False\n\n\nimport os\nos._exit(0)\n",
        assert_result=EARLY_EXIT,
        io_result="failed: ",  # EarlyExit, or the judge's SIGPIPE: whichever comes first
    ),
    Case(
        "os._exit(0) in the function",
        "HumanEval/0",
        "    import os\n    os._exit(0)\n",
        assert_result=EARLY_EXIT,
        io_result="failed: EarlyExit: the solution process ended during a call (exit status 0)",
    ),
    Case(
        "raise SystemExit(0) in the function",
        "HumanEval/0",
        "    raise SystemExit(0)\n",
        assert_result="failed: SystemExit: 0",
        io_result="failed: RuntimeError: SystemExit: 0",
    ),
    Case(
        "raise KeyboardInterrupt",
        "HumanEval/0",
        "    raise KeyboardInterrupt\n",
        assert_result="failed: KeyboardInterrupt",
        io_result="failed: RuntimeError: KeyboardInterrupt",
    ),
    Case(
        "atexit hook calling os._exit(0)",
        "HumanEval/0",
        "    return False\n\n\nimport atexit, os\natexit.register(os._exit, 0)\n",
        assert_result="failed: AssertionError",
        io_result="failed: AssertionError",
    ),
    Case(
        "SIGKILL itself with signal.raise_signal",
        "HumanEval/0",
        "    import signal\n    signal.raise_signal(signal.SIGKILL)\n",
        assert_result="failed: Killed: killed by signal SIGKILL",
        io_result="",  # "timed out" today: see test_io_mode_reports_a_self_sigkill_as_killed
    ),
    Case(
        "SIGKILL itself with ctypes",
        "HumanEval/0",
        "    import ctypes\n    libc = ctypes.CDLL(None)\n    libc.kill(libc.getpid(), 9)\n"
        "    return False\n",
        assert_result="failed: Killed: killed by signal SIGKILL",
        io_result="",
    ),
    Case(
        "fake passing lines on fds 0-20, then os._exit(0)",
        "HumanEval/0",
        "    import os\n"
        '    print("passed")\n'
        "    for fd in range(21):\n"
        '        for line in ("passed\\n", "x\\tpassed\\t\\t\\n", "\\tpassed\\t\\t\\n",\n'
        '                     "0" * 32 + "\\tpassed\\t\\t\\n"):\n'
        "            try:\n"
        "                os.write(fd, line.encode())\n"
        "            except OSError:\n"
        "                pass\n"
        "    os._exit(0)\n",
        assert_result=EARLY_EXIT,
        io_result="failed: ",
    ),
    Case(
        "fake passing lines on fds 0-20, then a wrong answer",
        "HumanEval/0",
        "    import os\n"
        '    print("passed")\n'
        "    for fd in range(21):\n"
        "        try:\n"
        '            os.write(fd, b"anything\\tpassed\\t\\t\\n")\n'
        "        except OSError:\n"
        "            pass\n"
        "    return False\n",
        assert_result="failed: AssertionError",
        io_result="failed: ",
    ),
    Case(
        "redefine check at module level",
        "HumanEval/0",
        "    return False\n\n\ndef check(candidate):\n    pass\n",
        assert_result="failed: AssertionError",
        io_result="failed: AssertionError",
    ),
    Case(
        "rebind check while it runs",
        "HumanEval/0",
        "    globals()['check'] = lambda candidate: None\n    return False\n",
        assert_result="failed: AssertionError",
        io_result="failed: AssertionError",
    ),
    Case(
        "replace builtins.AssertionError",
        "HumanEval/0",
        "    return False\n\n\nimport builtins\n\n\nclass _Quiet(Exception):\n    pass\n\n\n"
        "builtins.AssertionError = _Quiet\n",
        assert_result="failed: AssertionError",
        io_result="failed: AssertionError",
    ),
    Case(
        "patch json",
        "HumanEval/0",
        "    import json\n"
        "    json.dumps = lambda *a, **k: '[\"ok\", true]'\n"
        "    json.loads = lambda *a, **k: ['ok', True]\n"
        "    return False\n",
        assert_result="failed: AssertionError",
        io_result="failed: ",
    ),
    Case(
        "gc-walk to check and replace its __code__",
        "HumanEval/0",
        "    import gc\n"
        "    def _nothing(candidate):\n"
        "        return None\n"
        "    for obj in gc.get_objects():\n"
        "        if getattr(obj, '__name__', '') == 'check' and hasattr(obj, '__code__'):\n"
        "            obj.__code__ = _nothing.__code__\n"
        "    return False\n",
        assert_result="failed: AssertionError",
        io_result="failed: AssertionError",
    ),
]

# ---------------------------------------------------------------- in-process cheats

SETTRACE = """    return []


import dis
import sys


def _tracer(frame, event, arg):
    if event != "call" or frame.f_code.co_name != "check":
        return None
    code = frame.f_code
    calling = {
        ins.positions.lineno for ins in dis.get_instructions(code) if ins.argval == "candidate"
    }
    starts = sorted({line for _, line in dis.findlinestarts(code) if line is not None})

    def jump_over_asserts(frame, event, arg):
        if event == "line" and frame.f_lineno in calling:
            later = [line for line in starts if line > frame.f_lineno and line not in calling]
            if later:
                frame.f_lineno = later[0]
        return jump_over_asserts

    return jump_over_asserts


sys.settrace(_tracer)
"""

STEAL_TOKEN = """    import os, sys
    frame = sys._getframe()
    while frame is not None:
        token = frame.f_locals.get("token")
        if isinstance(token, str):
            line = (token + "\\t" + str(os.getpid()) + "\\tpassed\\t\\t\\n").encode()
            for fd in range(21):
                try:
                    os.write(fd, line)
                except OSError:
                    pass
            os._exit(0)
        frame = frame.f_back
    return False
"""

FRAME_CONSTS = """    import dis, sys
    caller = sys._getframe(1)
    while caller.f_code.co_name != "check":  # past passk's plain-data check
        caller = caller.f_back
    for ins in dis.get_instructions(caller.f_code):
        if ins.offset > caller.f_lasti and ins.opname == "LOAD_CONST":
            return ins.argval
    return None
"""

IN_PROCESS_CHEATS = [
    Case(
        "object with always-true __eq__",
        "HumanEval/0",
        "    class AlwaysEqual:\n        def __eq__(self, other):\n            return True\n"
        "    return AlwaysEqual()\n",
        assert_result=NOT_PLAIN,
        io_result=NOT_PLAIN,
    ),
    Case(
        "float subclass with always-true __eq__",
        "HumanEval/2",
        "    class F(float):\n"
        "        def __eq__(self, other):\n            return True\n"
        "        __hash__ = float.__hash__\n"
        "        def __sub__(self, other):\n            return F(0.0)\n"
        "    return F(7.0)\n",
        assert_result=NOT_PLAIN,
        io_result=NOT_PLAIN,
    ),
    Case(
        "int subclass with always-true __eq__",
        "HumanEval/2",
        "    class I(int):\n"
        "        def __eq__(self, other):\n            return True\n"
        "        __hash__ = int.__hash__\n"
        "        def __sub__(self, other):\n            return 0\n"
        "    return I(7)\n",
        assert_result=NOT_PLAIN,
        io_result=NOT_PLAIN,
    ),
    Case(
        "object whose __sub__ and __abs__ beat a tolerance check",
        "HumanEval/2",
        "    class T:\n"
        "        def __eq__(self, other):\n            return True\n"
        "        def __sub__(self, other):\n            return self\n"
        "        def __abs__(self):\n            return 0.0\n"
        "    return T()\n",
        assert_result=NOT_PLAIN,
        io_result=NOT_PLAIN,
    ),
    Case(
        "expected constant from the caller's code",
        "HumanEval/0",
        FRAME_CONSTS,
        assert_result=None,
        io_result="failed: AttributeError",
        limitation="check's frame is up the stack: the LOAD_CONST after the call is the answer",
    ),
    Case(
        "expected value from the caller's locals",
        "HumanEval/38",
        "    import sys\n    caller = sys._getframe(1)\n"
        "    while caller.f_code.co_name != 'check':\n        caller = caller.f_back\n"
        "    return caller.f_locals['str']\n",
        assert_result=None,
        io_result="failed: AttributeError",
        limitation="check, up the stack, holds the expected plaintext in its local `str`",
    ),
    Case(
        "patch builtins.abs",
        "HumanEval/2",
        "    import builtins\n    builtins.abs = lambda x: 0.0\n    return 0.5\n",
        assert_result=None,
        io_result="failed: AssertionError",
        limitation="the test's abs is the patched builtin",
    ),
    Case(
        "patch math.fabs",
        "HumanEval/32",
        "    import math\n    math.fabs = lambda x: 0.0\n    return 12345.0\n",
        assert_result=None,
        io_result="failed: AssertionError",
        limitation="the test imports the same, patched, math module",
    ),
    Case(
        "redefine the prompt's poly helper",
        "HumanEval/32",
        "    return 12345.0\n\n\ndef poly(xs, x):\n    return 0.0\n",
        assert_result=None,
        io_result="failed: AssertionError",
        limitation="the test evaluates the answer with the module's poly, which follows the completion",
    ),
    Case(
        "sys.settrace hook jumping over asserts",
        "HumanEval/70",
        SETTRACE,
        assert_result=None,
        io_result="failed: AssertionError",
        limitation="a trace function may set f_lineno in check's frame",
    ),
    Case(
        "steal the report token and forge a passing report on fd 3",
        "HumanEval/0",
        STEAL_TOKEN,
        assert_result=None,
        io_result="failed: ",
        limitation="the token is a local of run_sample, on the completion's own stack",
    ),
]

# io mode only: the solution forges the judge's report through /proc (refused: the judge is
# undumpable and another uid). Under the `none` sandbox the solution runs as the worker's uid and
# could reach the worker's pipes, so the case only runs where auto gives namespaces and uids.
PROC_FORGE = Case(
    "forge a report on the judge's fd 3 through /proc",
    "HumanEval/0",
    """    import os, sys
    frame, token = sys._getframe(), "none"
    while frame is not None:
        if isinstance(frame.f_locals.get("token"), str):
            token = frame.f_locals["token"]
        frame = frame.f_back
    fd = os.open(f"/proc/{os.getppid()}/fd/3", os.O_WRONLY)
    os.write(fd, (token + "\\t" + str(os.getppid()) + "\\tpassed\\t\\t\\n").encode())
    os._exit(0)
""",
    assert_result="failed: PermissionError",
    io_result="failed: PermissionError",
)

# The solution finds the test's source in a job on its own stack: in assert mode the test is the
# sample's own (a limitation); in io mode, a bug once: the solution's process never holds it.
STEAL_TEST = Case(
    "read the test source from the worker's job on the stack",
    "HumanEval/0",
    """    import ast, sys
    frame = sys._getframe()
    while frame is not None:
        for value in list(frame.f_locals.values()):
            if isinstance(value, dict) and isinstance(value.get("test"), str):
                for node in ast.walk(ast.parse(value["test"])):
                    if isinstance(node, ast.Compare) and isinstance(node.left, ast.Call):
                        args = [ast.literal_eval(a) for a in node.left.args]
                        if args == [numbers, threshold]:
                            return ast.literal_eval(node.comparators[0])
        frame = frame.f_back
    return None
""",
    assert_result=None,
    io_result="failed: ",
    limitation="the test is part of the sample's own job, on its own stack",
)

CHEATS = [
    *HARNESS_CHEATS,
    *IN_PROCESS_CHEATS,
    STEAL_TEST,
    *([PROC_FORGE] if AUTO_SANDBOX == "native" else []),
]

# ---------------------------------------------------------------- other samples

FIND_ZERO_ALTERNATIVE = """    # Scan down from the Cauchy bound for a sign change, then bisect: this finds the largest
    # real root, often not the one the canonical solution's search finds.
    n = len(xs) - 1
    while xs[n] == 0:
        n -= 1
    bound = 1.0 + max(abs(c / xs[n]) for c in xs[:n])
    step = bound / 4096
    x, f_x = bound, poly(xs, bound)
    while x > -bound:
        lo = x - step
        f_lo = poly(xs, lo)
        if f_lo == 0:
            return lo
        if (f_lo < 0) != (f_x < 0):
            for _ in range(200):
                mid = (lo + x) / 2
                f_mid = poly(xs, mid)
                if (f_mid < 0) == (f_lo < 0):
                    lo, f_lo = mid, f_mid
                else:
                    x = mid
            return (lo + x) / 2
        x, f_x = lo, f_lo
    raise ValueError("no real root")
"""

OTHERS = [
    Case(
        "wrong answer: constant",
        "HumanEval/0",
        "    return False\n",
        "failed: AssertionError",
        "failed: AssertionError",
    ),
    Case(
        "wrong answer: the whole number",
        "HumanEval/2",
        "    return number\n",
        "failed: AssertionError",
        "failed: AssertionError",
    ),
    Case(
        "wrong answer: joined with spaces",
        "HumanEval/28",
        "    return ' '.join(strings)\n",
        "failed: AssertionError",
        "failed: AssertionError",
    ),
    Case(
        "wrong answer: IndexError",
        "HumanEval/0",
        "    return numbers[100]\n",
        "failed: IndexError: list index out of range",
        "failed: IndexError: list index out of range",
    ),
    Case(
        "raises ValueError",
        "HumanEval/0",
        "    raise ValueError('no idea')\n",
        "failed: ValueError: no idea",
        "failed: ValueError: no idea",
    ),
    Case(
        "returns a generator",
        "HumanEval/28",
        "    return (s for s in strings)\n",
        NOT_PLAIN + ": not plain data: builtins.generator",
        NOT_PLAIN + ": not plain data: builtins.generator",
    ),
    Case(
        "returns an iterator",
        "HumanEval/28",
        "    return iter(strings)\n",
        NOT_PLAIN + ": not plain data: builtins.list_iterator",
        NOT_PLAIN + ": not plain data: builtins.list_iterator",
    ),
    Case(
        "find_zero: another root",
        "HumanEval/32",
        FIND_ZERO_ALTERNATIVE,
        "passed",
        "passed",
    ),
    Case(
        "sleeps forever",
        "HumanEval/0",
        "    import time\n    while True:\n        time.sleep(1000)\n",
        "timed out",
        "timed out",
    ),
    Case(
        "returns a 64 MB string",
        "HumanEval/28",
        "    return 'x' * (64 << 20)\n",
        "failed: AssertionError",
        NOT_PLAIN + ": value too large to pass",
    ),
]

ALL = {case.name: case for case in [*CHEATS, *OTHERS]}
assert len(ALL) == len(CHEATS) + len(OTHERS), "case names must be unique"


# ---------------------------------------------------------------- running them


def write_samples(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def evaluate_rows(samples: Path, mode: str, **kwargs: Any) -> tuple[list[dict[str, Any]], float]:
    out = samples.with_name(f"{samples.stem}-{mode}-results.jsonl")
    execution = ExecutionOptions(workers=WORKERS, sandbox="auto", mode=mode, **kwargs)
    evaluation = passk.evaluate(samples, k=[1], execution=execution, out=out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return rows, evaluation.summary["duration_s"]


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, Any]]]:
    """mode -> case name -> results row, for every case in ALL."""
    samples = write_samples(
        tmp_path_factory.mktemp("cheats") / "cheats.jsonl",
        [{"task_id": c.task_id, "completion": c.completion, "case": c.name} for c in ALL.values()],
    )
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for mode in MODES:
        rows, _ = evaluate_rows(samples, mode, limits=LIMITS)
        found[mode] = {row["case"]: row for row in rows}
    return found


def check_result(row: dict[str, Any], expected: str) -> None:
    assert row["result"].startswith(expected), (row["case"], row["result"])
    assert row["passed"] is (row["result"] == "passed")


def _assert_mode_param(case: Case) -> Any:
    marks = []
    if case.assert_result is None:
        marks.append(
            pytest.mark.xfail(
                reason=f"limitation of assert mode (the completion shares the test's process): "
                f"{case.limitation}",
                strict=True,
            )
        )
    return pytest.param(case, id=case.name, marks=marks)


def _io_mode_param(case: Case) -> Any:
    return pytest.param(case, id=case.name)


# ---------------------------------------------------------------- the cheats


@pytest.mark.parametrize("case", [_io_mode_param(c) for c in CHEATS])
def test_io_mode_stops_every_cheat(
    case: Case, verdicts: dict[str, dict[str, dict[str, Any]]]
) -> None:
    row = verdicts["io"][case.name]
    assert row["passed"] is False, (case.name, row["result"])
    assert row["result"] != "passed"
    check_result(row, case.io_result)


@pytest.mark.parametrize("case", [_assert_mode_param(c) for c in CHEATS])
def test_assert_mode_stops_harness_level_cheats(
    case: Case, verdicts: dict[str, dict[str, dict[str, Any]]]
) -> None:
    row = verdicts["assert"][case.name]
    assert row["passed"] is False, (case.name, row["result"])
    check_result(row, case.assert_result or "failed")


# ---------------------------------------------------------------- the other samples


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", OTHERS, ids=[c.name for c in OTHERS])
def test_ordinary_samples_get_their_verdicts(
    case: Case, mode: str, verdicts: dict[str, dict[str, dict[str, Any]]]
) -> None:
    expected = case.assert_result if mode == "assert" else case.io_result
    assert expected is not None
    check_result(verdicts[mode][case.name], expected)


def test_wrong_answers_get_the_same_verdict_in_both_modes(
    verdicts: dict[str, dict[str, dict[str, Any]]],
) -> None:
    for name in (c.name for c in OTHERS if c.name.startswith(("wrong answer", "raises"))):
        assert verdicts["assert"][name]["result"] == verdicts["io"][name]["result"], name
        assert verdicts["io"][name]["passed"] is False


def test_a_sleeping_solution_times_out_within_the_wall_limit(
    verdicts: dict[str, dict[str, dict[str, Any]]],
) -> None:
    for mode in MODES:
        row = verdicts[mode]["sleeps forever"]
        assert row["result"] == "timed out"
        assert row["duration_s"] <= LIMITS.wall_limit + 1.0


def test_a_64_mb_answer_is_bounded(verdicts: dict[str, dict[str, dict[str, Any]]]) -> None:
    row = verdicts["io"]["returns a 64 MB string"]
    assert row["passed"] is False
    assert "value too large to pass" in row["result"]
    assert row["duration_s"] < LIMITS.wall_limit  # refused, not waited out
    assert len(row["result"]) < 500  # the refusal names the size, not the value


def test_find_zero_accepts_another_root(humaneval: Benchmark) -> None:
    """The alternative finds a different root from the canonical solution's on some of the
    test's polynomials, so its pass (in test_ordinary_samples_get_their_verdicts) shows the
    test accepts any root, in both modes."""
    problem = humaneval.problems["HumanEval/32"]
    ours: dict[str, Any] = {}
    theirs: dict[str, Any] = {}
    exec(problem.prompt + FIND_ZERO_ALTERNATIVE, ours)
    exec(problem.prompt + problem.canonical_solution, theirs)
    rng = random.Random(42)  # the test's own draws
    different = 0
    for _ in range(100):
        coeffs = [rng.randint(-10, 10) or 1 for _ in range(2 * rng.randint(1, 4))]
        a, b = ours["find_zero"](list(coeffs)), theirs["find_zero"](list(coeffs))
        assert math.fabs(ours["poly"](coeffs, a)) < 1e-4
        different += not math.isclose(a, b, abs_tol=1e-3)
    assert different > 0


# ---------------------------------------------------------------- canonical solutions


@pytest.fixture(scope="module")
def canonical(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    bench = get_benchmark("humaneval")
    samples = write_samples(
        tmp_path_factory.mktemp("canonical") / "canonical.jsonl",
        [{"task_id": t, "completion": p.canonical_solution} for t, p in bench.problems.items()],
    )
    return {mode: evaluate_rows(samples, mode)[0] for mode in MODES}


def test_io_mode_agrees_with_assert_mode_on_every_canonical_solution(
    canonical: dict[str, list[dict[str, Any]]],
) -> None:
    assert len(canonical["io"]) == 164
    failing = {
        mode: [(r["task_id"], r["result"]) for r in rows if not r["passed"]]
        for mode, rows in canonical.items()
    }
    assert failing == {"assert": [], "io": []}
    assert [r["result"] for r in canonical["io"]] == [r["result"] for r in canonical["assert"]]


# ---------------------------------------------------------------- io-mode divergences (bugs)


def _pool_results(jobs: list[Job]) -> dict[int, str]:
    with WorkerPool(WORKERS, limits=LIMITS) as pool:
        return {i: v.result for i, v in pool.run(jobs)}


def _both_modes(program: str, test: str, entry_point: str) -> tuple[str, str]:
    results = _pool_results(
        [
            Job(0, f"{program}\n{test}\ncheck({entry_point})"),
            Job(1, program, mode="io", test=test, entry_point=entry_point),
        ]
    )
    return results[0], results[1]


def test_io_mode_keeps_surrogate_code_points_apart() -> None:
    assert_result, io_result = _both_modes(
        "def f():\n    return '\\ud83d\\ude00'\n",
        "def check(candidate):\n    assert candidate() == '\\U0001f600'\n",
        "f",
    )
    assert assert_result == "failed: AssertionError"
    assert io_result == "failed: AssertionError"


def test_io_mode_passes_a_correct_huge_int() -> None:
    assert_result, io_result = _both_modes(
        "def f():\n    return 10 ** 5000\n",
        "def check(candidate):\n    assert candidate() == 10 ** 5000\n",
        "f",
    )
    assert assert_result == "passed"
    assert io_result == "passed"


def test_io_mode_reports_a_self_sigkill_as_killed(
    verdicts: dict[str, dict[str, dict[str, Any]]],
) -> None:
    for name in ("SIGKILL itself with signal.raise_signal", "SIGKILL itself with ctypes"):
        assert verdicts["io"][name]["result"] == verdicts["assert"][name]["result"]
