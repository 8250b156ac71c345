"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

import pytest

from passk.benchmarks import Benchmark, get_benchmark


@pytest.fixture(scope="session")
def humaneval() -> Benchmark:
    return get_benchmark("humaneval")


class Procs:
    """Read-only views of the host's process table (/proc), for tests that start processes."""

    @staticmethod
    def children(pid: int) -> list[int]:
        pids: list[int] = []
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            return pids
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    pids += [int(p) for p in f.read().split()]
            except FileNotFoundError:
                pass
        return pids

    @classmethod
    def descendants(cls, pid: int) -> list[int]:
        """Children, grandchildren...: nearest first."""
        found, i = cls.children(pid), 0
        while i < len(found):
            found += cls.children(found[i])
            i += 1
        return found

    @staticmethod
    def running(pid: int) -> bool:
        """Whether pid is a live process (a zombie, dead but not reaped, counts as gone)."""
        try:
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return False
        return state not in ("Z", "X")

    @classmethod
    def still_running(cls, pids: Iterable[int], within: float = 5.0) -> set[int]:
        """The pids still alive after waiting up to `within` seconds for them to end."""
        alive = set(pids)
        deadline = time.monotonic() + within
        while True:
            alive = {pid for pid in alive if cls.running(pid)}
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.02)


@pytest.fixture(scope="session")
def procs() -> type[Procs]:
    return Procs
