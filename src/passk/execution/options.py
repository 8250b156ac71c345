"""How samples are to be run: the options every command that runs code takes, as one value.

`passk evaluate`, `run`, `sweep`, `rank --examples` and the canonical-solution checks of mined
benchmarks all run programs; they take one `ExecutionOptions` (limits, workers, sandbox, verdict
mode), which the CLI registers on a parser in one place and passes on whole.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any

from passk.errors import InputError
from passk.execution.pool import MODES, Limits
from passk.execution.sandbox import MODES as SANDBOXES


@dataclass(frozen=True)
class ExecutionOptions:
    """Per-sample limits, the number of workers (None: one per core), the sandbox mode and
    the verdict mode ("assert", the paper's, or "io")."""

    limits: Limits = field(default_factory=Limits)
    workers: int | None = None
    sandbox: str = "auto"
    mode: str = "assert"

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise InputError(f"--workers must be at least 1, got {self.workers}")
        if self.sandbox not in SANDBOXES:
            raise InputError(
                f"--sandbox must be one of {', '.join(SANDBOXES)}, got {self.sandbox!r}"
            )
        if self.mode not in MODES:
            raise InputError(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    def with_limits(self, **changes: Any) -> ExecutionOptions:
        """The same options with some limits changed, e.g. with_limits(timeout=10)."""
        return replace(self, limits=replace(self.limits, **changes))
