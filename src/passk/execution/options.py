"""How samples are to be run: the options every command that runs code takes, as one value.

`passk evaluate`, `run`, `sweep`, `rank --examples` and the canonical-solution checks of mined
benchmarks all run programs; they take one `ExecutionOptions` (limits, workers, sandbox, verdict
mode, and where they run: this machine's worker pool or a Ray cluster), which the CLI registers
on a parser in one place and passes on whole.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass, field, replace
from typing import Any

from passk.errors import InputError
from passk.execution.pool import MODES, Limits
from passk.execution.ray_executor import check_address
from passk.execution.sandbox import MODES as SANDBOXES

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class ExecutionOptions:
    """Per-sample limits, the number of workers (None: one per core; with Ray, per node), the
    sandbox mode, the verdict mode ("assert", the paper's, or "io"), and the executor: "local"
    (this machine's worker pool) or "ray" (one pool per node of the Ray cluster at
    `ray_address`; None: Ray's own choice, see `passk.execution.ray_executor`). `cgroups=False`
    leaves out the cgroup that bounds each sample as a whole, even where the machine gives one:
    for measuring what it costs, never for a real run. `timeout_auto` (`--timeout auto`) gives
    each problem a CPU limit of its own from its canonical solution's CPU time (see
    `passk.canonical.calibrate`); `limits.timeout` is then the limit of problems without one."""

    limits: Limits = field(default_factory=Limits)
    workers: int | None = None
    sandbox: str = "auto"
    mode: str = "assert"
    executor: str = "local"
    ray_address: str | None = None
    cgroups: bool = True
    timeout_auto: bool = False

    def __post_init__(self) -> None:
        if self.workers is not None and self.workers < 1:
            raise InputError(f"--workers must be at least 1, got {self.workers}")
        if self.sandbox not in SANDBOXES:
            raise InputError(
                f"--sandbox must be one of {', '.join(SANDBOXES)}, got {self.sandbox!r}"
            )
        if self.mode not in MODES:
            raise InputError(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.executor not in EXECUTORS:
            raise InputError(
                f"--executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}"
            )
        if self.ray_address is not None:
            check_address(self.ray_address)
            if self.executor != "ray":
                raise InputError("--ray-address is for --executor ray")
        if self.executor == "ray" and importlib.util.find_spec("ray") is None:
            raise InputError("--executor ray needs Ray: pip install 'passk[ray]'")

    @property
    def worker_count(self) -> int:
        return self.workers or os.cpu_count() or 1

    def with_limits(self, **changes: Any) -> ExecutionOptions:
        """The same options with some limits changed, e.g. with_limits(timeout=10)."""
        return replace(self, limits=replace(self.limits, **changes))
