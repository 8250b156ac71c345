"""passk's execution worker: a fork server that runs each untrusted program in a child of its own.

This file runs as a separate process (started by `passk.execution.pool`, never imported by
passk); besides the standard library it imports only passk's own isolation, io-mode and codec
modules. It enters the sandbox, imports the modules tests commonly need once, freezes its heap,
then for every job forks a child that sets up its limits and runs the program. A fork of a warm
process costs a millisecond or two where starting Python costs tens.

Protocol on stdin/stdout: frames of a 4-byte big-endian length and a UTF-8 JSON object. The
first frame configures the worker; each later frame is a job, answered by one reply frame.

The child reports its end through a pipe, with a token the worker chose for this job: text a
program prints, an exit status of 0, or a line written to any descriptor without the token
never reads as a pass. The verdict is the worker's, from what it observed (exit status, signal,
CPU time, wall time) and that report. A program that hunts the token in its own process's
frames can still forge the report: in-process grading cannot stop that, io mode does.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import gc
import importlib
import io
import json
import math
import os
import resource
import secrets
import select
import shutil
import signal
import struct
import subprocess
import sys
import time
from typing import Any

from passk.execution import iomode, isolation

_HEADER = struct.Struct(">I")
_OUTPUT_CHUNK = 1 << 16
_MESSAGE_LIMIT = 1000
_PR_SET_CHILD_SUBREAPER = 36


# ---------------------------------------------------------------- framing with the parent


def read_frame(fd: int) -> dict[str, Any] | None:
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    body = _read_exactly(fd, _HEADER.unpack(header)[0])
    if body is None:
        return None
    return json.loads(body)  # type: ignore[no-any-return,unused-ignore]


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = os.read(fd, size - len(chunks))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def write_frame(fd: int, obj: dict[str, Any]) -> None:
    body = json.dumps(obj).encode()
    data = _HEADER.pack(len(body)) + body
    while data:
        data = data[os.write(fd, data) :]


# ---------------------------------------------------------------- the child: one sample


def run_child(
    job: dict[str, Any], config: dict[str, Any], workdir: str, out_w: int, report_w: int
) -> None:
    """In the forked child: isolate, limit, run the program, report. Never returns."""
    os.setsid()
    os.chdir(workdir)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    os.dup2(report_w, 3)
    os.closerange(4, 1 << 16)  # the worker's protocol pipes and everything else
    _set_limits(job, config)
    # The worker's SIGCHLD wakeup descriptor is closed above; without this, the handler would
    # write into whatever file the sample opens next under that number.
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # The report is written with functions taken before the sample runs and encoded with
    # str methods only: a sample that patches os, json or this module cannot change it.
    token, write, exit_now, getpid = job.pop("token"), os.write, os._exit, os.getpid
    if job.get("mode") == "io":
        status, error, message = _judge(job, config)
    else:
        _drop_privileges(config)
        status, error, message = _execute(job["program"], config.get("guard", True))
    _flush_std_streams()
    # The pid tells this process's report from one a forked copy of it would write.
    fields = (token, str(getpid()), status, error, message)
    data = "\t".join(fields).encode("utf-8", "replace") + b"\n"
    while data:
        data = data[write(3, data) :]
    exit_now(0)


def _drop_privileges(config: dict[str, Any]) -> None:
    """Become the slot's uid (where there is one), then die with the worker: the kernel clears
    the parent-death signal on a uid change, so it is set after."""
    parent = os.getppid()
    if config.get("uid") is not None:
        isolation.drop_privileges(config["uid"], config["uid"])
    isolation.die_with_parent()
    if os.getppid() != parent:  # the worker died before the signal was armed
        os._exit(70)


def _judge(job: dict[str, Any], config: dict[str, Any]) -> tuple[str, str, str]:
    """io mode, in the trusted judge: start the solution, run the problem's check against it.

    The judge keeps the worker's uid and makes itself undumpable before the solution exists,
    so the solution (another uid, or the same one without the sandbox) can neither read its
    descriptors through /proc nor trace it.
    """
    isolation.set_undumpable()
    isolation.die_with_parent()
    requests_r, requests_w = os.pipe()
    replies_r, replies_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            _solution(job, config, requests_r, replies_w)
        finally:
            os._exit(70)
    os.close(requests_r)
    os.close(replies_w)
    deadline = time.monotonic() + job["wall_timeout"] - 0.25
    candidate = iomode.Candidate(requests_w, replies_r, deadline, config["max_reply_bytes"])
    try:
        return _run_check(job, candidate)
    except iomode.CallTimeout:
        return ("timed out", "", "")
    except iomode.SolutionGone as e:
        return _solution_end(pid, str(e), job["timeout"])
    except BaseException as e:  # every failure of the check is a verdict
        return ("failed", _safe_name(e), _safe_message(e))
    finally:
        os.close(requests_w)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


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


def _solution_end(pid: int, what: str, timeout: float) -> tuple[str, str, str]:
    """Why the solution process went away in the middle of a call."""
    _, status, usage = os.wait4(pid, 0)
    signalled = os.WIFSIGNALED(status)
    if signalled and os.WTERMSIG(status) == signal.SIGXCPU:
        return ("timed out", "", "")
    if signalled and os.WTERMSIG(status) == signal.SIGKILL and _cpu(usage) >= timeout:
        return ("timed out", "", "")  # the hard CPU limit, a second past the soft one
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        return ("failed", "Killed", f"killed by signal {name}")
    return ("failed", "EarlyExit", f"{what} (exit status {os.WEXITSTATUS(status)})")


def _solution(job: dict[str, Any], config: dict[str, Any], requests: int, replies: int) -> None:
    """io mode, in the solution's process: define the code, then answer the judge's calls."""
    os.dup2(requests, 3)  # also closes the judge's report pipe, which fd 3 was
    os.dup2(replies, 4)
    os.closerange(5, 1 << 16)
    _drop_privileges(config)
    program, entry_point = job["program"], job["entry_point"]
    # This process is a copy of the judge: forget the test before any solution code runs, so
    # that walking up the stack or through the worker's globals finds no expected values.
    job.clear()
    _TRUSTED_CODE.clear()
    gc.collect()
    fn = _define(program, entry_point, config.get("guard", True))
    iomode.serve(fn, 3, 4, config["max_reply_bytes"])
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


def _cpu(usage: Any) -> float:
    return float(usage.ru_utime + usage.ru_stime)


def _set_limits(job: dict[str, Any], config: dict[str, Any]) -> None:
    cpu = math.ceil(job["timeout"])
    limits = {
        resource.RLIMIT_CPU: (cpu, cpu + 1),  # SIGXCPU at the soft limit, SIGKILL a second later
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_NOFILE: (config["max_open_files"],) * 2,
        resource.RLIMIT_FSIZE: (config["max_file_bytes"],) * 2,
        resource.RLIMIT_NPROC: (config["max_processes"],) * 2,
    }
    if config["max_memory_bytes"]:
        limits[resource.RLIMIT_AS] = (config["max_memory_bytes"],) * 2
    for which, value in limits.items():
        resource.setrlimit(which, value)


def _execute(program: str, guard: bool) -> tuple[str, str, str]:
    """Run the program in a fresh namespace, as the official harness's exec does:
    ("passed", "", "") or ("failed", exception type, message)."""
    try:
        code = compile(program, "<sample>", "exec")
        if guard:
            _human_eval_guard()
        exec(code, {})
        return ("passed", "", "")
    except BaseException as e:
        return ("failed", _safe_name(e), _safe_message(e))


def _safe_name(e: BaseException) -> str:
    name = type(e).__name__
    return " ".join(name.split()) if isinstance(name, str) else "BaseException"


def _safe_message(e: BaseException) -> str:
    try:
        text = str(e)
    except BaseException:
        return "<unprintable>"
    if not isinstance(text, str):
        return "<unprintable>"
    text = " ".join(text.split())  # also removes tabs and newlines, the report's separators
    return text[:_MESSAGE_LIMIT]


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
    shutil.rmtree = None  # type: ignore[assignment]
    shutil.move = None  # type: ignore[assignment]
    shutil.chown = None  # type: ignore[assignment]
    subprocess.Popen = None  # type: ignore[assignment,misc]
    for name in ("ipdb", "joblib", "resource", "psutil", "tkinter"):
        sys.modules[name] = None  # type: ignore[assignment]


# ---------------------------------------------------------------- the worker: supervise


class Worker:
    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.tmp_root = config["tmp_root"]
        self.output_limit = config["max_output_bytes"]
        self.sigchld_r = _sigchld_wakeup()
        self.subreaper = _become_subreaper()

    def run(self, job: dict[str, Any]) -> dict[str, Any]:
        job["token"] = secrets.token_hex(16)
        if job.get("mode") == "io":
            for source, name in ((job["prompt"], "<prompt>"), (job["test"], "<test>")):
                with contextlib.suppress(SyntaxError, ValueError):
                    _compile_trusted(source, name)
        workdir = _make_workdir(self.tmp_root)
        if self.config.get("uid") is not None:
            os.chown(workdir, self.config["uid"], self.config["uid"])
        out_r, out_w = os.pipe()
        report_r, report_w = os.pipe()
        start = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                run_child(job, self.config, workdir, out_w, report_w)
            finally:
                os._exit(70)
        os.close(out_w)
        os.close(report_w)
        try:
            status, usage, wall_timed_out, output = self._supervise(
                pid, out_r, start + job["wall_timeout"]
            )
            wall = time.monotonic() - start
            self._sweep(pid)
            report = _read_report(report_r, job["token"], pid)
        finally:
            os.close(out_r)
            os.close(report_r)
            _remove_workdir(workdir)
        cpu = usage.ru_utime + usage.ru_stime
        verdict = _verdict(job, status, cpu, wall_timed_out, report)
        verdict.update(
            wall_s=round(wall, 6), cpu_s=round(cpu, 6), output=output.decode("utf-8", "replace")
        )
        return verdict

    def _supervise(self, pid: int, out_r: int, deadline: float) -> tuple[int, Any, bool, bytes]:
        """Wait for the child, draining its output, until it exits or the deadline passes.

        A child's exit wakes the poll through SIGCHLD's wakeup descriptor (pidfd_open is missing
        under gVisor, and one mechanism everywhere is simpler); orphans dying wake it too, so an
        exit is always confirmed with wait4.
        """
        os.set_blocking(out_r, False)
        output = bytearray()
        poller = select.poll()
        poller.register(out_r, select.POLLIN)
        poller.register(self.sigchld_r, select.POLLIN)
        while True:
            wpid, status, usage = os.wait4(pid, os.WNOHANG)
            if wpid == pid:
                self._drain(out_r, output)
                return status, usage, False, bytes(output)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                _kill_group(pid)
                _, status, usage = os.wait4(pid, 0)
                return status, usage, True, bytes(output)
            for fd, _ in poller.poll(max(1, math.ceil(remaining * 1000))):
                if fd == self.sigchld_r:
                    _drain_quietly(fd)
                elif not self._drain(out_r, output):
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

    def _sweep(self, pid: int) -> None:
        """Kill whatever the sample left behind: its session, and orphans reparented to us.

        As PID 1 of a namespace (the sandboxed modes) every other process in it is the sample's,
        and kill(-1) reaches them all at once, however fast they fork; otherwise the orphans
        are found as our children (we are a child subreaper).
        """
        _kill_group(pid)
        if os.getpid() == 1:
            _kill_namespace()
        elif self.subreaper:
            _kill_children()


def _kill_namespace() -> None:
    """As PID 1: kill every other process of the namespace, then reap them all."""
    for _ in range(1000):
        try:
            os.kill(-1, signal.SIGKILL)  # all but us, in one pass the kernel makes atomic
        except ProcessLookupError:
            break
        _reap_exited()
    _reap_exited()  # zombies of killed processes count against RLIMIT_NPROC


def _kill_children() -> None:
    for _ in range(1000):  # a fork bomb can add children while we kill; go round until none
        orphans = _children()
        if not orphans:
            _reap_exited()
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


def _reap_exited() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.0005)  # killed children take a moment to become reapable
            return


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def _read_report(fd: int, token: str, pid: int) -> dict[str, Any] | None:
    """The child's report: the line with this job's token written by the child itself (a
    process it forked inherits the token and the pipe); anything else on the pipe is noise."""
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
        if len(fields) == 5 and fields[0] == token and fields[1] == str(pid):
            return {"status": fields[2], "error": fields[3], "message": fields[4]}
    return None


def _verdict(
    job: dict[str, Any],
    status: int,
    cpu: float,
    wall_timed_out: bool,
    report: dict[str, Any] | None,
) -> dict[str, Any]:
    timeout = job["timeout"]
    if wall_timed_out or cpu > timeout:
        return {"outcome": "timed out"}
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGXCPU:
            return {"outcome": "timed out"}
        return {
            "outcome": "failed",
            "error": "Killed",
            "message": f"killed by signal {signal.Signals(sig).name}",
        }
    code = os.WEXITSTATUS(status)
    if report is None or code != 0:
        return {
            "outcome": "failed",
            "error": "EarlyExit",
            "message": f"exited with status {code} before the tests finished",
        }
    if report.get("status") == "passed":
        return {"outcome": "passed"}
    if report.get("status") == "timed out":
        return {"outcome": "timed out"}
    return {
        "outcome": "failed",
        "error": str(report.get("error", "")),
        "message": str(report.get("message", "")),
    }


def _make_workdir(root: str) -> str:
    for _ in range(100):
        path = os.path.join(root, secrets.token_hex(8))
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
        subprocess.run(["rm", "-rf", "--", path], check=False, stdin=subprocess.DEVNULL)


def _remove_tree(path: str) -> None:
    def make_writable(func: Any, p: str, exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(p), 0o700)
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    shutil.rmtree(path, onerror=make_writable)


# ---------------------------------------------------------------- main loop


def _isolate(config: dict[str, Any]) -> None:
    """Enter the sandbox's namespaces (native mode) and pick where work directories go."""
    if config.get("namespaces"):
        isolation.enter_namespaces(tmp_size_mb=config["tmp_size_mb"], expose=config["expose"])
    if config.get("isolated_tmp"):
        config["tmp_root"] = _private_work_root()
    os.environ["OMP_NUM_THREADS"] = "1"  # as the official harness's reliability_guard sets it


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
    isolation.set_undumpable()  # a sample of the same uid (no sandbox) cannot open our fds
    config = read_frame(cmd_in)
    if config is None:
        return 0
    _isolate(config)
    for name in config.get("preimports", ()):
        importlib.import_module(name)
    if config.get("seccomp"):
        isolation.install_seccomp()  # last: it also forbids what the set-up above needed
    worker = Worker(config)
    gc.collect()
    gc.freeze()  # forked children then do not copy the heap just to count references
    write_frame(reply_out, {"ready": True, "pid": os.getpid()})
    while (job := read_frame(cmd_in)) is not None:
        try:
            reply = worker.run(job)
        except Exception as e:  # the harness's own failure: a verdict of error, not a dead worker
            reply = {
                "outcome": "error",
                "error": "HarnessError",
                "message": f"{type(e).__name__}: {e}",
            }
        reply["id"] = job.get("id")
        write_frame(reply_out, reply)
    return 0


if __name__ == "__main__":
    sys.exit(main())
