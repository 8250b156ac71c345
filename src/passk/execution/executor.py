"""What runs jobs: the interface that the local worker pool and the Ray executor share.

`passk.evaluation.open_pool` returns one or the other, as `ExecutionOptions.executor` asks;
everything after that (the journal, --resume, the summary) treats them alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from passk.execution.pool import Job
from passk.execution.sandbox import Sandbox
from passk.execution.verdict import Verdict


class Executor(Protocol):
    """Runs jobs in a sandbox and yields (job id, verdict) as they finish, each job once."""

    workers: int
    sandbox: Sandbox

    def describe(self) -> dict[str, Any]:
        """The limits every sample ran under, for results summaries and the journal."""
        ...

    def announcement(self) -> str:
        """One line for users: where samples run, with what limits and protections."""
        ...

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[int, Verdict]]: ...

    def close(self, *, abort: bool = False) -> None: ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None: ...
