"""Execution: the only part of passk that runs untrusted programs (Chen et al. 2021, section 2.3).

A warm pool of fork-server workers runs each sample in a child process of its own, with resource
limits, its own session and work directory, and a wall-clock deadline; see `pool` and `worker`.
"""

from passk.execution.pool import Job, Limits, WorkerPool
from passk.execution.verdict import Outcome, Verdict

__all__ = ["Job", "Limits", "Outcome", "Verdict", "WorkerPool"]
