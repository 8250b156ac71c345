"""Execution: the only part of passk that runs untrusted programs (Chen et al. 2021, section 2.3).

A warm pool of fork-server workers runs each sample in a process of its own (forked from a
server that never held a job), with resource limits, a cgroup per worker slot (`cgroups`), its
own session and work directory, and a wall-clock deadline, inside the sandbox chosen in
`sandbox`; see `pool` and `worker`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["Job", "Limits", "Outcome", "Sandbox", "Verdict", "WorkerPool", "choose_sandbox"]

if TYPE_CHECKING:
    from passk.execution.pool import Job, Limits, WorkerPool
    from passk.execution.sandbox import Sandbox, choose_sandbox
    from passk.execution.verdict import Outcome, Verdict

_HOMES = {
    "Job": "pool",
    "Limits": "pool",
    "WorkerPool": "pool",
    "Sandbox": "sandbox",
    "choose_sandbox": "sandbox",
    "Outcome": "verdict",
    "Verdict": "verdict",
}


def __getattr__(name: str) -> Any:
    # Lazy, so that a worker importing passk.execution.isolation loads nothing else.
    if name in _HOMES:
        import importlib

        return getattr(importlib.import_module(f"passk.execution.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'passk.execution' has no attribute {name!r}")
