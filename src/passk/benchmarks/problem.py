"""The Problem and Benchmark types, and the program that judges one sample.

The program is the official harness's: prompt + completion + "\\n" + test + "\\n" +
"check(entry_point)". A whole-program `solution` replaces prompt + completion.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from passk.errors import BenchmarkError


@dataclass(frozen=True)
class Problem:
    """One task: the prompt shown to the model and the tests that judge its completion."""

    task_id: str
    prompt: str
    entry_point: str
    canonical_solution: str
    test: str

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
        head = text if is_solution else self.prompt + text
        return f"{head}\n{self.test}\ncheck({self.entry_point})"

    def solution(self, text: str, *, is_solution: bool = False) -> str:
        """The sample's code alone, without the test: what io mode runs in the sandbox."""
        return text if is_solution else self.prompt + text


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
