"""A pool of warm worker processes that run untrusted programs, one forked child per program.

Each worker (`worker.py`, started with the real interpreter, isolated mode, an empty
environment and a session of its own) imports what tests need once and then forks per sample,
so a sample costs a fork rather than an interpreter start. The pool keeps one thread per
worker: it hands the worker a job, waits for the verdict under a deadline, and restarts a
worker that died or hung. Untrusted code never runs in this process.
"""

from __future__ import annotations

import collections
import contextlib
import json
import math
import os
import queue
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any

from passk.errors import ExecutionError, InputError
from passk.execution.sandbox import Sandbox, choose_sandbox
from passk.execution.verdict import Outcome, Verdict

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
_HEADER = struct.Struct(">I")
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


@dataclass(frozen=True)
class Job:
    """One sample to judge. `id` is the caller's, returned with the verdict.

    Assert mode (the paper's): `program` is the whole check program, run in one process.
    io mode: `program` is the solution alone; the judge runs `prompt` (for its helpers) and
    `test`, then `check(candidate)`, where calls to candidate reach `entry_point` in the
    solution's process as plain data.
    """

    id: int
    program: str
    mode: str = "assert"
    prompt: str = ""
    test: str = ""
    entry_point: str = ""

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"--mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.mode == "io" and not (self.test and self.entry_point):
            raise InputError("an io-mode job needs the problem's test and entry point")


MODES = ("assert", "io")


def default_tmp_root() -> str:
    """Work directories live on tmpfs where there is one: creating them costs ~0.1 ms, not ~2."""
    shm = "/dev/shm"
    if os.path.isdir(shm) and os.access(shm, os.W_OK | os.X_OK):
        return shm
    return tempfile.gettempdir()


class _WorkerProcess:
    """One worker process and the pipes to it; used by one pool thread only."""

    def __init__(self, config: dict[str, Any], sandbox: Sandbox) -> None:
        self._stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the worker
        self._sandbox = sandbox
        self.command = sandbox.command(
            [sys.executable, "-I", "-B", str(WORKER_SCRIPT)], _WORKER_ENV
        )
        self.proc = subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=_WORKER_ENV,
            cwd="/",
            start_new_session=True,
            bufsize=0,
        )
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

    def receive(self, limits: Limits) -> dict[str, Any] | None:
        """The reply to the oldest job sent, or None when the worker died or hung (it is then
        killed). The worker starts that job when it has answered the one before, so the wait
        is bounded by one job's wall limit plus a grace period."""
        try:
            reply = self._receive(time.monotonic() + limits.wall_limit + _REPLY_GRACE_S)
        except OSError:
            reply = None
        if reply is None:
            self.kill()
        return reply

    def _send(self, obj: dict[str, Any]) -> None:
        if not self.send(_frame(obj)):
            raise ExecutionError(f"execution worker exited: {self.stderr_tail()}")

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        header = self._read(_HEADER.size, deadline)
        body = header and self._read(_HEADER.unpack(header)[0], deadline)
        return json.loads(body) if body else None

    def _read(self, size: int, deadline: float) -> bytes | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        data = bytearray()
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                return None
            chunk = os.read(fd, size - len(data))
            if not chunk:
                return None
            data += chunk
        return bytes(data)

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
        self._stderr.close()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, 9)
        self.proc.kill()
        self.proc.wait()
        self._sandbox.stop(self.command)


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
    ) -> None:
        """`guard` disables what the official harness's reliability guard disables (os.remove,
        os.getcwd, subprocess.Popen, ...) before each program, so verdicts match it; programs
        that are not samples, such as a project's own tests, run without it. The guard is no
        isolation: the sandbox isolates either way."""
        if workers < 1:
            raise InputError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.limits = limits or Limits()
        self.sandbox = sandbox or choose_sandbox("auto")
        self._tmp_root = tmp_root or default_tmp_root()
        self._tmp = ""  # made by start(), removed by close()
        self._config = {
            "preimports": list(preimports),
            "guard": guard,
            "max_memory_bytes": self.limits.max_memory_mb << 20,
            "max_processes": self.limits.max_processes,
            "max_file_bytes": self.limits.max_file_mb << 20,
            "max_open_files": self.limits.max_open_files,
            "max_output_bytes": self.limits.max_output_kb << 10,
            "max_reply_bytes": 16 << 20,
        }
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
        if not self._tmp:
            self._tmp = tempfile.mkdtemp(prefix="passk-", dir=self._tmp_root)
            self._config["tmp_root"] = self._tmp
        for slot in range(self.workers):
            self._procs.append(self._start_worker(slot))
        return self

    def _start_worker(self, slot: int) -> _WorkerProcess:
        return _WorkerProcess({**self._config, **self.sandbox.worker_config(slot)}, self.sandbox)

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[int, Verdict]]:
        """Yield (job id, verdict) for every job, in the order they finish."""
        if not self._procs:
            self.start()
        todo: queue.Queue[Job | None] = queue.Queue()
        done: queue.Queue[tuple[int, Verdict] | BaseException] = queue.Queue()
        count = 0
        for job in jobs:
            todo.put(job)
            count += 1
        threads = [
            threading.Thread(target=self._serve, args=(i, todo, done), daemon=True)
            for i in range(len(self._procs))
        ]
        for _ in threads:
            todo.put(None)
        for t in threads:
            t.start()
        finished = False
        try:
            for _ in range(count):
                item = done.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
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
        reply = self._procs[slot].receive(self.limits)
        if reply is not None:
            inflight.popleft()
            done.put((head.job.id, _to_verdict(reply)))
            return
        with self._lock:
            closed = self._closed
            if not closed:
                self._procs[slot].close()
                self._procs[slot] = self._start_worker(slot)
        head.attempts += 1
        if closed or head.attempts >= 2:
            inflight.popleft()
            why = "the pool was closed" if closed else "the execution worker died twice"
            done.put((head.job.id, Verdict(Outcome.ERROR, "WorkerDied", f"{why} on this sample")))
        if closed:
            while inflight:
                job = inflight.popleft().job
                done.put((job.id, Verdict(Outcome.ERROR, "WorkerDied", "the pool was closed")))
            return
        for entry in inflight:  # what the dead worker had queued goes to its replacement
            self._procs[slot].send(entry.frame)

    def _job_frame(self, job: Job) -> bytes:
        return _frame(
            {**asdict(job), "timeout": self.limits.timeout, "wall_timeout": self.limits.wall_limit}
        )

    def close(self, *, abort: bool = False) -> None:
        """Stop the workers: after their current sample, or at once when aborting."""
        with self._lock:
            self._closed = True
        for proc in self._procs:
            proc.kill() if abort else proc.close()
        self._procs.clear()
        self.sandbox.close()
        if self._tmp:
            _remove_tree(self._tmp)
            self._tmp = ""

    def __enter__(self) -> WorkerPool:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self.close(abort=exc_type is not None)


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
    body = json.dumps(obj).encode()
    return _HEADER.pack(len(body)) + body


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
