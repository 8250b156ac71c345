"""A pool of warm worker processes that run untrusted programs, one forked child per program.

Each worker (`worker.py`, run from a private copy of its four modules with the real
interpreter, isolated mode, an empty environment and a session of its own) imports what tests
need once and then forks per sample, so a sample costs a fork rather than an interpreter start.
Where the machine has cgroups, each worker slot gets one (`cgroups`) that holds every process of
the sample it runs. The pool keeps one thread per worker: it hands the worker a job, waits for
the verdict under a deadline, and restarts a worker that died or hung. Untrusted code never
runs in this process.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import math
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

from passk.errors import ExecutionError, InputError
from passk.execution import codec
from passk.execution.cgroups import GroupLimits, PoolGroups, SlotGroup
from passk.execution.sandbox import (
    GVISOR_MEMORY_MB,
    GVISOR_TASKS,
    SLOT_UID_BASE,
    Runtime,
    Sandbox,
    choose_sandbox,
    make_runtime,
)
from passk.execution.verdict import Outcome, Verdict

_WORKER_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
_START_TIMEOUT_S = 60.0
# How long past a job's own wall limit the pool waits for the worker's reply before it calls
# the worker hung; the worker kills the sample at the wall limit itself.
_REPLY_GRACE_S = 30.0


@dataclass(frozen=True)
class Limits:
    """Per-sample resource limits. `timeout` is CPU seconds; `wall_timeout` is real time."""

    timeout: float = 3.0
    wall_timeout: float | None = None  # default: 2 x timeout + 2 s, generous for loaded machines
    max_memory_mb: int = 4096  # address space; 0 = unlimited
    max_processes: int = 64
    max_file_mb: int = 16
    max_open_files: int = 256
    max_output_kb: int = 64

    def __post_init__(self) -> None:
        for name in ("timeout", "wall_timeout"):
            value = getattr(self, name)
            if value is not None and not math.isfinite(value):
                raise InputError(f"--{name.replace('_', '-')} must be a finite number, got {value}")
        if not self.timeout > 0:
            raise InputError(f"--timeout must be positive, got {self.timeout}")
        if self.wall_timeout is not None and self.wall_timeout < self.timeout:
            raise InputError("--wall-timeout must be at least --timeout")
        for name in (
            "max_memory_mb",
            "max_processes",
            "max_file_mb",
            "max_open_files",
            "max_output_kb",
        ):
            if getattr(self, name) < 0:
                raise InputError(f"{name} must not be negative")

    @property
    def wall_limit(self) -> float:
        return self.wall_timeout if self.wall_timeout is not None else 2 * self.timeout + 2.0

    def for_timeout(self, timeout: float | None) -> Limits:
        """These limits with another CPU limit (None: the same). The wall limit never shrinks
        (a shorter CPU limit must not make a loaded machine's verdicts change) and grows with
        a longer CPU limit as the default wall limit does."""
        if timeout is None or timeout == self.timeout:
            return self
        grown = timeout if self.wall_timeout is not None else 2 * timeout + 2.0
        return replace(self, timeout=timeout, wall_timeout=max(self.wall_limit, grown))


@dataclass(frozen=True)
class Job:
    """One sample to judge. `id` is the caller's, returned with the verdict.

    Assert mode (the paper's), with `test` and `entry_point`: `program` is the solution; its
    process runs it, then the test, then `check(entry_point)` (the official program), where
    the candidate must return plain data. Without them, `program` is a whole program, run as is.
    io mode: `program` is the solution alone; a trusted judge runs `prompt` (for its helpers)
    and `test`, then `check(candidate)`, where calls to candidate reach `entry_point` in the
    solution's process as plain data. stdio mode (`passk.execution.stdio`): `program` runs once
    per case of `cases`, (standard input, expected standard output) pairs, each case under the
    limits of a whole sample; only the inputs reach the program's processes, so the verdict
    mode makes no difference to these jobs. (A new kind of job adds a mode here and a kind in
    the worker's `_SAMPLE_KINDS`.) `timeout`: this job's CPU seconds (for a stdio job, each
    case's), where its problem has a limit of its own (`--timeout auto`); None: the pool's.
    """

    id: int
    program: str
    mode: str = "assert"
    prompt: str = ""
    test: str = ""
    entry_point: str = ""
    cases: tuple[tuple[str, str], ...] = ()
    timeout: float | None = None

    def __post_init__(self) -> None:
        if self.timeout is not None and not (math.isfinite(self.timeout) and self.timeout > 0):
            raise InputError(f"a job's timeout must be a positive number, got {self.timeout}")
        if self.mode not in JOB_MODES:
            raise InputError(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if (self.mode == "stdio") != bool(self.cases):
            raise InputError("a stdio job needs test cases, and only a stdio job has them")
        if self.mode == "stdio" and self.test:
            raise InputError("a stdio job is judged by its cases, not by a test")
        if self.mode == "io" and not (self.test and self.entry_point):
            raise InputError("an io-mode job needs the problem's test and entry point")
        if bool(self.test) != bool(self.entry_point):
            raise InputError("a job with a test needs its entry point, and the other way round")


MODES = ("assert", "io")  # verdict modes, what --mode chooses
JOB_MODES = (*MODES, "stdio")


def wall_limit(job: Job, limits: Limits) -> float:
    """How long a job may take in all: a sample's wall limit, once per case for stdio jobs."""
    return limits.wall_limit * max(len(job.cases), 1)


def default_tmp_root() -> str:
    """Work directories live on tmpfs where there is one: creating them costs ~0.1 ms, not ~2."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return tempfile.gettempdir()


@dataclass
class _Slot:
    """What one worker slot is started with: its number, its cgroup (None without cgroups or
    under gVisor, whose sandbox gets a cgroup of its own from runsc), the pool's groups."""

    index: int
    group: SlotGroup | None
    groups: PoolGroups | None
    gvisor_limits: GroupLimits | None


class _WorkerProcess:
    """One worker process and the pipes to it; used by one pool thread only."""

    def __init__(
        self, config: dict[str, Any], sandbox: Sandbox, runtime: Runtime, slot: _Slot
    ) -> None:
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        self._sandbox = sandbox
        self._slot = slot
        self._container: SlotGroup | None = None  # a gVisor sandbox's own cgroup
        cgroup = None
        if slot.groups is not None and slot.gvisor_limits is not None:
            path, self._container = slot.groups.container(slot.index, slot.gvisor_limits)
            cgroup = (path, slot.gvisor_limits)
        self.command = sandbox.command(
            [sys.executable, "-I", "-B"], _WORKER_ENV, runtime, cgroup=cgroup
        )
        fds: list[int] = []
        if slot.group is not None:  # opened here: a sandboxed worker cannot see /sys/fs/cgroup
            config = {**config, "group": slot.group.worker_spec()}
            fds = slot.group.fds
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=_WORKER_ENV,
            cwd="/",
            start_new_session=True,
            bufsize=0,
            pass_fds=fds,
        )
        if slot.group is not None:
            slot.group.close_fds()
        self._send(config)
        ready = self._receive(time.monotonic() + _START_TIMEOUT_S)
        if not ready or not ready.get("ready"):
            self.kill()
            raise ExecutionError(f"execution worker failed to start: {self.stderr_tail()}")

    def send(self, frame: bytes) -> bool:
        """Queue a job frame for the worker; False when the worker is gone."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(frame)
        except OSError:
            return False
        return True

    def receive(self, wall: float, *, kill: bool = True) -> dict[str, Any] | None:
        """The reply to the oldest job sent, or None when the worker died or hung (it is then
        killed). The worker starts that job when it has answered the one before, so the wait
        is bounded by that job's wall limit (`wall`) plus a grace period."""
        try:
            reply = self._receive(time.monotonic() + wall + _REPLY_GRACE_S)
        except OSError:
            reply = None
        if reply is None and kill:
            self.kill()
        return reply

    def _send(self, obj: dict[str, Any]) -> None:
        if not self.send(_frame(obj)):
            raise ExecutionError(f"execution worker exited: {self.stderr_tail()}")

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        assert self.proc.stdout is not None
        try:
            body = codec.read_frame(self.proc.stdout.fileno(), deadline=deadline)
        except (TimeoutError, codec.CodecError):
            return None
        return json.loads(body) if body else None

    def died_of_oom(self) -> bool:
        """Whether the kernel's OOM killer ended this worker's gVisor sandbox: its cgroup (the
        sample's memory limit, plus the sandbox's own) was full."""
        if self._container is None:
            return False
        try:
            return self._container.oom_kills() > 0
        except OSError:
            return False

    def stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else f"exit status {self.proc.poll()}"

    def close(self) -> None:
        """Ask the worker to stop (end of input), then make sure it has."""
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        if self._container is not None:
            self._container.remove()
            self._container = None
        self._stderr.close()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, 9)
        self.proc.kill()
        self.proc.wait()
        self._sandbox.stop(self.command)
        if self._slot.group is not None:  # samples of a worker that died mid-sample
            self._slot.group.kill_all()
        if self._container is not None:
            self._container.remove()
            self._container = None


@dataclass
class _InFlight:
    job: Job
    frame: bytes
    attempts: int = 0


# Jobs queued at one worker at a time: the next one is waiting when a sample ends.
_PIPELINE = 2
_PIPELINE_FRAME_LIMIT = 32 << 10


class WorkerPool:
    """Runs jobs on `workers` warm worker processes; verdicts come back as they finish.

    >>> with WorkerPool(workers=1) as pool:  # doctest: +SKIP
    ...     [v.outcome for _, v in pool.run([Job(0, "assert 1 + 1 == 2")])]
    [<Outcome.PASSED: 'passed'>]
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        limits: Limits | None = None,
        preimports: Iterable[str] = (),
        tmp_root: str | None = None,
        sandbox: Sandbox | None = None,
        guard: bool = True,
        hide: Iterable[str] = (),
        trace: bool = False,
    ) -> None:
        """`guard` disables what the official harness's reliability guard disables (os.remove,
        os.getcwd, subprocess.Popen, ...) before each program, so verdicts match it; programs
        that are not samples, such as a project's own tests, run without it. The guard is no
        isolation: the sandbox isolates either way. `hide`: paths samples must not see even
        where the sandbox's minimal root would show them (a run directory inside the
        interpreter's own folders, say). `trace` (for `benchmarks/execution.py`): each verdict's
        timeline, when the worker, the sample server and the sample reached each step of it,
        is kept in `traces`; it costs nothing without."""
        if workers < 1:
            raise InputError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.limits = limits or Limits()
        self.sandbox = sandbox or choose_sandbox("auto")
        self._tmp_root = tmp_root or default_tmp_root()
        self._hide = tuple(hide)
        self._tmp = ""  # made by start(), removed by close()
        self._runtime: Runtime | None = None
        self._groups: PoolGroups | None = None
        self._config = {
            "preimports": list(preimports),
            "guard": guard,
            "max_memory_bytes": self.limits.max_memory_mb << 20,
            "max_processes": self.limits.max_processes,
            "max_file_bytes": self.limits.max_file_mb << 20,
            "max_open_files": self.limits.max_open_files,
            "max_output_bytes": self.limits.max_output_kb << 10,
            "max_reply_bytes": 16 << 20,
            "trace": trace,
        }
        self.traces: list[dict[str, float]] = []
        self._procs: list[_WorkerProcess] = []
        self._lock = threading.Lock()
        self._closed = False

    def describe(self) -> dict[str, Any]:
        """The limits every sample ran under, for results summaries."""
        return {**asdict(self.limits), "wall_limit": self.limits.wall_limit}

    def announcement(self) -> str:
        """One line for users: how many workers, and what limits and protections samples get."""
        lim = self.limits
        memory = f"{lim.max_memory_mb} MB" if lim.max_memory_mb else "no memory limit"
        return (
            f"execution: {self.workers} workers; per sample {lim.timeout:g} s CPU, "
            f"{lim.wall_limit:g} s wall, {memory}, {lim.max_processes} processes; "
            f"sandbox: {self.sandbox.describe()}"
        )

    def start(self) -> WorkerPool:
        try:
            return self._start()
        except BaseException:
            self.close(abort=True)
            raise

    def _start(self) -> WorkerPool:
        if not self._tmp:
            self._tmp = tempfile.mkdtemp(prefix="passk-", dir=self._tmp_root)
            self._config["tmp_root"] = self._tmp
            uids = [SLOT_UID_BASE + i for i in range(self.workers)]
            # Apart from the work directories: the tmp root holds only those.
            runtime = Path(tempfile.mkdtemp(prefix="passk-runtime-")) / "runtime"
            self._runtime = make_runtime(runtime, uids, self._hide)
        if self.sandbox.cgroups is not None and self._groups is None:
            self._groups = PoolGroups(self.sandbox.cgroups, self._group_limits())
        for slot in range(self.workers):
            self._procs.append(self._start_worker(slot))
        return self

    def _group_limits(self) -> GroupLimits:
        """A slot's: the sample's memory and processes, one CPU."""
        return GroupLimits(self.limits.max_memory_mb << 20, self.limits.max_processes)

    def _start_worker(self, index: int) -> _WorkerProcess:
        assert self._runtime is not None
        slot = _Slot(index, None, self._groups, None)
        if self._groups is not None and self.sandbox.mode == "gvisor":
            memory = self.limits.max_memory_mb and self.limits.max_memory_mb + GVISOR_MEMORY_MB
            slot.gvisor_limits = GroupLimits(memory << 20, GVISOR_TASKS)
        elif self._groups is not None:
            slot.group = self._groups.slot(index)
        config = {**self._config, **self.sandbox.worker_config(index, self._runtime)}
        return _WorkerProcess(config, self.sandbox, self._runtime, slot)

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[int, Verdict]]:
        """Yield (job id, verdict) for every job, in the order they finish. Jobs are taken from
        `jobs` as workers need them (a few per worker ahead), so a run of any length holds only
        those in flight."""
        if not self._procs:
            self.start()
        todo: queue.Queue[Job | None] = queue.Queue()
        done: queue.Queue[tuple[int, Verdict] | BaseException] = queue.Queue()
        threads = [
            threading.Thread(target=self._serve, args=(i, todo, done), daemon=True)
            for i in range(len(self._procs))
        ]
        feed = _Feed(iter(jobs), todo, len(threads))
        feed.put(_AHEAD * len(threads))
        for t in threads:
            t.start()
        finished = False
        try:
            while feed.outstanding:
                item = done.get()
                if isinstance(item, BaseException):
                    raise item
                feed.outstanding -= 1
                yield item
                feed.put(1)
            finished = True
        finally:
            if finished:
                for t in threads:
                    t.join()
            else:  # stopped early: threads take no new job; closing the pool stops the rest
                _drain(todo)

    def _serve(
        self,
        slot: int,
        todo: queue.Queue[Job | None],
        done: queue.Queue[tuple[int, Verdict] | BaseException],
    ) -> None:
        try:
            self._serve_slot(slot, todo, done)
        except BaseException as e:  # handed to the consumer, raised there
            done.put(e)

    def _serve_slot(
        self,
        slot: int,
        todo: queue.Queue[Job | None],
        done: queue.Queue[tuple[int, Verdict] | BaseException],
    ) -> None:
        """Keep up to _PIPELINE jobs queued at this slot's worker, so that it never waits for
        the next job; collect the replies in order."""
        inflight: collections.deque[_InFlight] = collections.deque()
        more = True
        while True:
            while more and len(inflight) < _PIPELINE:
                try:  # wait for a job only with none in flight, for pools fed as jobs come
                    job = todo.get(block=not inflight)
                except queue.Empty:
                    break
                if job is None:
                    more = False
                    break
                entry = _InFlight(job, self._job_frame(job))
                if inflight and len(entry.frame) > _PIPELINE_FRAME_LIMIT:
                    # A large frame could fill the pipe while the worker is busy; send it only
                    # when the worker is idle, so neither side can block on the other.
                    self._finish_all(slot, inflight, done)
                inflight.append(entry)
                self._procs[slot].send(entry.frame)  # a dead worker shows in receive()
            if not inflight:
                return
            self._finish_oldest(slot, inflight, done)

    def _finish_all(
        self, slot: int, inflight: collections.deque[_InFlight], done: queue.Queue[Any]
    ) -> None:
        while inflight:
            self._finish_oldest(slot, inflight, done)

    def _finish_oldest(
        self, slot: int, inflight: collections.deque[_InFlight], done: queue.Queue[Any]
    ) -> None:
        # A worker that dies under a sample is replaced and the sample tried once more, so one
        # hostile sample cannot take the pool down, and a sample is never lost.
        head = inflight[0]
        proc = self._procs[slot]
        reply = proc.receive(
            wall_limit(head.job, self.limits.for_timeout(head.job.timeout)), kill=False
        )
        if reply is not None:
            if "trace" in reply:
                self.traces.append({**reply["trace"], "p_received": time.monotonic()})
            inflight.popleft()
            done.put((head.job.id, _to_verdict(reply)))
            return
        oom = proc.died_of_oom()  # before kill(), which removes the sandbox's cgroup
        proc.kill()
        with self._lock:
            closed = self._closed
            if not closed:
                proc.close()
                self._procs[slot] = self._start_worker(slot)
        head.attempts += 1
        verdict = None
        if oom:  # the sample filled its gVisor sandbox: judged, not retried
            verdict = self._sandbox_oom_verdict()
        elif closed or head.attempts >= 2:
            why = "the pool was closed" if closed else "the execution worker died twice"
            verdict = Verdict(Outcome.ERROR, "WorkerDied", f"{why} on this sample")
        if verdict is not None:
            inflight.popleft()
            done.put((head.job.id, verdict))
        if closed:
            while inflight:
                job = inflight.popleft().job
                done.put((job.id, Verdict(Outcome.ERROR, "WorkerDied", "the pool was closed")))
            return
        for entry in inflight:  # what the dead worker had queued goes to its replacement
            self._procs[slot].send(entry.frame)

    def _sandbox_oom_verdict(self) -> Verdict:
        return Verdict(
            Outcome.FAILED,
            "MemoryError",
            f"out of memory: the sample filled its gVisor sandbox ({self.limits.max_memory_mb} "
            f"MB and the sandbox's own {GVISOR_MEMORY_MB} MB)",
        )

    def _job_frame(self, job: Job) -> bytes:
        limits = self.limits.for_timeout(job.timeout)
        return _frame({**asdict(job), "timeout": limits.timeout, "wall_limit": limits.wall_limit})

    def close(self, *, abort: bool = False) -> None:
        """Stop the workers: after their current sample, or at once when aborting."""
        with self._lock:
            self._closed = True
        for proc in self._procs:
            proc.kill() if abort else proc.close()
        self._procs.clear()
        self.sandbox.close()
        if self._groups is not None:
            self._groups.close()
            self._groups = None
        if self._tmp:
            _remove_tree(self._tmp)
            self._tmp = ""
        if self._runtime is not None:
            _remove_tree(str(self._runtime.root.parent))
            self._runtime = None

    def __enter__(self) -> WorkerPool:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(abort=exc_type is not None)


# Jobs a pool's queue holds per worker beyond those in flight: enough that no worker waits.
_AHEAD = 4


class _Feed:
    """Moves jobs from the caller's iterable to the workers' queue as verdicts come back, then
    one end-of-jobs marker per worker; counts the jobs still owed a verdict."""

    def __init__(self, source: Iterator[Job], todo: queue.Queue[Job | None], workers: int) -> None:
        self.source, self.todo, self.workers = source, todo, workers
        self.outstanding = 0
        self.ended = False

    def put(self, count: int) -> None:
        if self.ended:
            return
        for job in itertools.islice(self.source, count):
            self.todo.put(job)
            self.outstanding += 1
            count -= 1
        if count > 0:
            self.ended = True
            for _ in range(self.workers):
                self.todo.put(None)


def _to_verdict(reply: dict[str, Any]) -> Verdict:
    return Verdict(
        outcome=Outcome(reply["outcome"]),
        error=reply.get("error", ""),
        message=reply.get("message", ""),
        wall_s=reply.get("wall_s", 0.0),
        cpu_s=reply.get("cpu_s", 0.0),
        output=reply.get("output", ""),
    )


def _frame(obj: dict[str, Any]) -> bytes:
    return codec.frame(json.dumps(obj).encode())


def _drain(q: queue.Queue[Any]) -> None:
    try:
        while True:
            q.get_nowait()
    except queue.Empty:
        pass
    for _ in range(64):
        q.put(None)


def _remove_tree(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)
