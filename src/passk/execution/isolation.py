"""Isolation set up inside a worker, before it runs any sample (imported by `worker` only).

In `native` mode the worker calls `enter_namespaces` once: new mount, network, PID, IPC and UTS
namespaces, and a minimal root of its own — a read-only tmpfs holding only what the host side
listed (`/usr`, the interpreter's directories with passk's and the benchmarks' packages masked,
a synthetic `/etc`), a `/dev` of six device nodes and a private devpts instance with a small
`max`, a `/proc` of its own, and a work tmpfs with a size and an inode limit. In `bwrap` mode
bubblewrap builds the same root and the worker adds the work tmpfs and the devpts instance
(`finish_mounts`). Each sample's process then joins the slot's cgroup (`SampleGroup`, opened by
the pool on the host, or made inside gVisor), makes itself the OOM killer's first choice, calls
`drop_privileges` (the slot's own uid) and inherits the seccomp filter the worker installed on
itself with `install_seccomp`. This follows what isolate and nsjail do: a supervisor outside the
jail, one uid per slot, namespaces, cgroups, rlimits, seccomp.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import signal
import socket
import time
from collections.abc import Iterable, Mapping
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
# A cgroup namespace too: a sample's /proc/self/cgroup then names its group relative to the
# worker's, not the host's cgroup tree (the pool opened the group's files before, and the
# kernel checks moves against the opener's namespace).
NAMESPACES = (
    CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWCGROUP
)

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
_MNT_DETACH = 2
_SYS_MOUNT_SETATTR = 442  # x86_64 and aarch64 share it (new syscalls use the common table)
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
_AT_FDCWD, _AT_RECURSIVE, _MOUNT_ATTR_RDONLY = -100, 0x8000, 1
WORK_ROOT = "/tmp"
DEVICES = ("null", "zero", "full", "random", "urandom", "tty")
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, _PR_SET_NO_NEW_PRIVS = 22, 2, 38
OOM_SCORE_NEVER, OOM_SCORE_FIRST = -1000, 1000

_libc = ctypes.CDLL(None, use_errno=True)


class _MountAttr(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_uint64) for name in ("attr_set", "attr_clr", "propagation", "userns_fd")
    ]


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _mount(
    source: str, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    _check(
        _libc.mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def work_tmpfs_options(size_mb: int, inodes: int) -> str:
    """The work tmpfs's options: bytes and inodes both bounded (tmpfs counts no inodes by
    default, so empty files and folders would grow the kernel's memory without limit).

    >>> work_tmpfs_options(512, 16384)
    'mode=0711,size=512m,nr_inodes=16384'
    """
    return f"mode=0711,size={size_mb}m,nr_inodes={inodes}"


def devpts_options(max_ptys: int) -> str:
    """A devpts instance of the sandbox's own: its pseudo-terminals count against `max`, not
    against the host's."""
    return f"newinstance,ptmxmode=0666,mode=0620,max={max_ptys}"


# ---------------------------------------------------------------- the minimal root (native)


def enter_namespaces(*, layout: Iterable[Mapping[str, str]], work: str, ptys: str) -> None:
    """Move this process into new namespaces as PID 1 of its own PID namespace, with a minimal
    root built from `layout` (entries of kind "bind" (read-only), "dir" and "symlink", parents
    before children), a work tmpfs with the mount options `work` and a devpts with `ptys`.

    The calling process forks: the parent stays outside, waits, and exits with the child's
    status; the child returns from this function inside the new namespaces.
    """
    _check(_libc.unshare(NAMESPACES), "unshare")
    pid = os.fork()
    if pid:
        _wait_and_exit_like(pid)
    _make_mounts_private()
    entries = list(layout)
    # Descriptors to every source, taken before the staging tmpfs covers any of them.
    sources = {e["source"]: os.open(e["source"], os.O_PATH) for e in entries if e["kind"] == "bind"}
    new = WORK_ROOT  # the staging point; the host's /tmp is not part of the new root
    _mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=4m,nr_inodes=4096")
    for entry in entries:
        _place(new, entry, sources)
    for fd in sources.values():
        os.close(fd)
    _make_dev(new + "/dev", ptys)
    os.mkdir(new + "/proc", 0o555)
    os.mkdir(new + WORK_ROOT, 0o711)
    _mount("tmpfs", new + WORK_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, work)
    _pivot_into(new)
    _make_read_only("/")
    for path in (WORK_ROOT, "/dev/pts"):
        _make_writable(path)
    # After the read-only pass: a process writes its own /proc/self/oom_score_adj.
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
    socket.sethostname("passk-sandbox")


def _place(new: str, entry: Mapping[str, str], sources: Mapping[str, int]) -> None:
    target = new + entry["dest"]
    os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
    if entry["kind"] == "symlink":
        os.symlink(entry["source"], target)
    elif entry["kind"] == "dir":
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        fd = sources[entry["source"]]
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(target, mode=0o755, exist_ok=True)
        elif not os.path.exists(target):
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)


def _make_dev(dev: str, ptys: str) -> None:
    """/dev: the six harmless device nodes, a private devpts, /dev/shm empty and read-only."""
    os.mkdir(dev, 0o755)
    _mount("tmpfs", dev, "tmpfs", MS_NOSUID, "mode=0755,size=64k,nr_inodes=64")
    for name in DEVICES:
        os.close(os.open(f"{dev}/{name}", os.O_CREAT | os.O_WRONLY, 0o666))
        _mount(f"/dev/{name}", f"{dev}/{name}", None, MS_BIND)
    for name in ("pts", "shm"):
        os.mkdir(f"{dev}/{name}", 0o755)
    _mount("devpts", f"{dev}/pts", "devpts", MS_NOSUID, ptys)
    for name, target in (
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ):
        os.symlink(target, f"{dev}/{name}")


def _pivot_into(new: str) -> None:
    """Make `new` the root and detach the old one, so that not even /proc/self/mountinfo
    lists the host's mounts."""
    number = _SYS_PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(errno.ENOSYS, f"pivot_root: unknown on {platform.machine()}")
    os.chdir(new)
    _check(_libc.syscall(number, b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", _MNT_DETACH), "umount the old root")
    os.chdir("/")


def finish_mounts(*, work: str, ptys: str) -> None:
    """In a root bubblewrap built: the work tmpfs and a devpts with limits bubblewrap cannot
    set, then everything read-only but those two."""
    _mount("tmpfs", WORK_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, work)
    _mount("devpts", "/dev/pts", "devpts", MS_NOSUID, ptys)
    _make_read_only("/")
    for path in (WORK_ROOT, "/dev/pts", "/proc"):  # (what bwrap binds below /proc stays)
        _make_writable(path)


def _wait_and_exit_like(pid: int) -> None:
    """The outside half of a worker: hold nothing, wait for the inside half, share its end."""
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:
            continue
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


def _make_mounts_private() -> None:
    # Without this, mounts made here would propagate back to the host's mount table.
    _mount("none", "/", None, MS_REC | MS_PRIVATE)


def _make_read_only(path: str) -> None:
    """Every mount at and below path read-only."""
    _mount_setattr(path, _MountAttr(_MOUNT_ATTR_RDONLY, 0, 0, 0), recursive=True)


def _make_writable(path: str) -> None:
    """The mount at path (only: what is bound below it stays read-only) writable again."""
    _mount_setattr(path, _MountAttr(0, _MOUNT_ATTR_RDONLY, 0, 0), recursive=False)


def _mount_setattr(path: str, attr: _MountAttr, *, recursive: bool) -> None:
    flags = _AT_RECURSIVE if recursive else 0
    result = _libc.syscall(
        _SYS_MOUNT_SETATTR, _AT_FDCWD, path.encode(), flags, ctypes.byref(attr), ctypes.sizeof(attr)
    )
    _check(result, f"mount_setattr {path} (needs Linux 5.12 or later)")


# ---------------------------------------------------------------- processes


def set_undumpable() -> None:
    """No core dumps, and /proc/PID/fd, mem and ptrace closed to processes of the same uid."""
    _check(_libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")


def die_with_parent() -> None:
    """SIGKILL this process when its parent dies (a worker killed mid-sample takes it along)."""
    _check(_libc.prctl(_PR_SET_PDEATHSIG, 9, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def drop_privileges(uid: int, gid: int) -> None:
    """In a sample's child: become the slot's unprivileged user, for good."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def set_oom_score(value: int) -> None:
    """-1000: the OOM killer never picks this process; 1000: it picks this one first. Lowering
    needs root; a process without it keeps its score."""
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write(str(value))


def kill_uid(uid: int) -> None:
    """SIGKILL every process of `uid` in this PID namespace, from a helper that takes that uid:
    kill(-1) reaches exactly the processes a process of that uid may signal, and the kernel
    signals them all in one pass, however fast they fork. The caller reaps what it adopted."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setresuid(uid, uid, uid)
            for _ in range(3):
                os.kill(-1, signal.SIGKILL)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)


class SampleGroup:
    """The slot's cgroup as the worker uses it: every process of a sample joins it (`join`), its
    CPU time and OOM kills are read from it, and everything in it is killed after the sample.

    `spec` names descriptors the pool opened on the host (or `inside_gvisor` made): `join`
    (cgroup.procs of each hierarchy a sample joins, for writing), `join_server` (those the
    sample server joins once, so that samples are born there), `dir` (the group's folder, O_PATH: a v1
    cgroup.procs read through a descriptor kept open lists the pids of its first read, so each
    listing opens it afresh), `cpu` (a file whose number, or whose `cpu_key` line, times
    `cpu_scale` is CPU seconds), `oom` (a file with an `oom_kill N` line), `tasks`
    (pids.current) and `kill` (cgroup.kill); the last three may be missing. `tasks` present
    means the group also limits the sample's tasks.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.join_fds: list[int] = list(spec["join"])
        self.server_fds: list[int] = list(spec.get("join_server", ()))
        self.dir: int = spec["dir"]
        self.cpu: int = spec["cpu"]
        self.cpu_key: str | None = spec.get("cpu_key")
        self.cpu_scale: float = spec["cpu_scale"]
        self.oom: int | None = spec.get("oom")
        self.tasks_fd: int | None = spec.get("tasks")
        self.kill_fd: int | None = spec.get("kill")

    @property
    def counts_tasks(self) -> bool:
        return self.tasks_fd is not None

    @classmethod
    def inside_gvisor(cls) -> SampleGroup:
        """gVisor's own cgroupfs (v1, cpuacct: it counts; it enforces no limits), mounted in a
        folder of the work root that samples cannot enter."""
        mount_point = f"{WORK_ROOT}/.cgroup"
        os.mkdir(mount_point, 0o700)
        _mount("cgroup", mount_point, "cgroup", MS_NOSUID | MS_NODEV, "cpuacct")
        group = f"{mount_point}/passk"
        os.mkdir(group, 0o700)
        spec = {
            "join": [os.open(f"{group}/cgroup.procs", os.O_WRONLY)],
            "dir": os.open(group, os.O_PATH | os.O_DIRECTORY),
            "cpu": os.open(f"{group}/cpuacct.usage", os.O_RDONLY),
            "cpu_scale": 1e-9,
        }
        return cls(spec)

    def join(self) -> None:
        """In a sample's process: move into the group (children follow)."""
        for fd in self.join_fds:
            os.write(fd, b"0")

    def join_server(self) -> None:
        """In the sample server, once: move into the hierarchies samples are born in."""
        for fd in self.server_fds:
            os.write(fd, b"0")

    def cpu_seconds(self) -> float:
        text = _read(self.cpu)
        if self.cpu_key is None:
            return int(text) * self.cpu_scale
        return field_value(text, self.cpu_key) * self.cpu_scale

    def oom_kills(self) -> int:
        return 0 if self.oom is None else field_value(_read(self.oom), "oom_kill")

    def tasks(self) -> int:
        """Tasks the group holds, zombies included (0 where it does not count them)."""
        return 0 if self.tasks_fd is None else int(_read(self.tasks_fd))

    def pids(self) -> list[int]:
        fd = os.open("cgroup.procs", os.O_RDONLY, dir_fd=self.dir)
        try:
            return [int(p) for p in _read(fd).split()]
        finally:
            os.close(fd)

    def kill_all(self) -> None:
        """SIGKILL every process in the group until none is left (zombies leave the list; the
        processes that adopted them reap them)."""
        if self.kill_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self.kill_fd, b"1")
        for _ in range(2000):
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.0005)
        raise RuntimeError("processes in the sample's cgroup survive SIGKILL")


def _read(fd: int) -> str:
    chunks, offset = [], 0
    while chunk := os.pread(fd, 65536, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks).decode()


def field_value(text: str, key: str) -> int:
    """The number on `text`'s line that starts with `key`; 0 when there is none.

    >>> field_value("usage_usec 1500\\nuser_usec 1000\\n", "usage_usec")
    1500
    >>> field_value("oom_kill_disable 0\\nunder_oom 0\\noom_kill 2\\n", "oom_kill")
    2
    """
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            return int(value)
    return 0


# System calls that test code never needs and that attacks do: debugging other processes,
# mounting, loading kernel code, namespaces (a way around the rest), kernel keyrings, io_uring
# and userfaultfd (kernel attack surface), and the clock, swap and accounting of the host.
DENIED_SYSCALLS = (
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "reboot",
    "kexec_load",
    "kexec_file_load",
    "bpf",
    "init_module",
    "finit_module",
    "delete_module",
    "unshare",
    "setns",
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "userfaultfd",
    "perf_event_open",
    "swapon",
    "swapoff",
    "acct",
    "quotactl",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "syslog",
    "open_by_handle_at",
    "name_to_handle_at",
    "fanotify_init",
    "iopl",
    "ioperm",
    "vhangup",
    "mount_setattr",
    "move_mount",
    "open_tree",
    "fsopen",
    "fsmount",
    "fspick",
    "personality",
    # System V and POSIX message-queue IPC: objects that would outlive the sample in the
    # worker's IPC namespace, holding memory no one frees.
    "shmget",
    "shmat",
    "msgget",
    "semget",
    "mq_open",
)
_NAMESPACE_FLAGS = (
    CLONE_NEWNS,
    CLONE_NEWCGROUP,
    CLONE_NEWUTS,
    CLONE_NEWIPC,
    CLONE_NEWUSER,
    CLONE_NEWPID,
    CLONE_NEWNET,
)


def seccomp_program() -> bytes:
    """A seccomp filter (classic BPF, as the kernel loads it) refusing the system calls above;
    socket(2); socket pairs other than AF_UNIX; clone with namespace flags; and clone3 (ENOSYS,
    so libc falls back to clone, whose flags a filter can see).

    Made with libseccomp in passk's own process; each worker loads it (`install_seccomp`) and
    so needs neither libseccomp nor what its binding imports (ctypes.util brings shutil,
    subprocess and tempfile, and with them zlib, bz2, lzma and threading: some 25 more memory
    mappings that every fork of the worker would copy, and under gVisor a fork costs about
    0.4 ms a mapping).
    """
    import tempfile

    import pyseccomp as seccomp

    f = seccomp.SyscallFilter(seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        # A system call this kernel or architecture does not have needs no rule.
        with contextlib.suppress(RuntimeError, ValueError, OSError):
            f.add_rule(seccomp.ERRNO(errno.EPERM), name)
    # No socket(2) at all: AF_UNIX neither, since a read-only mount does not stop connect(2)
    # to a host's socket file (D-Bus, Docker...). socketpair(2) of AF_UNIX stays: asyncio and
    # multiprocessing use it, and a pair connects only to itself.
    f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket")
    f.add_rule(
        seccomp.ERRNO(errno.EAFNOSUPPORT), "socketpair", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX)
    )
    for flag in _NAMESPACE_FLAGS:
        f.add_rule(
            seccomp.ERRNO(errno.EPERM), "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag)
        )
    f.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    with tempfile.TemporaryFile() as out:
        f.export_bpf(out)
        out.seek(0)
        return out.read()


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install_seccomp(program: bytes) -> None:
    """Load `program` (`seccomp_program`'s) for this process and every process it starts, as
    libseccomp's seccomp_load does: no new privileges, then the filter."""
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
    code = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(code))  # 8 bytes an instruction
    _check(
        _libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
        "prctl(PR_SET_SECCOMP)",
    )


def seccomp_available() -> str | None:
    """None when a filter can be built here, else why not."""
    try:
        import pyseccomp as seccomp

        seccomp.SyscallFilter(seccomp.ALLOW)
    except ImportError:
        return "the pyseccomp module is missing (pip install pyseccomp)"
    except (OSError, RuntimeError) as e:
        return f"libseccomp is unusable ({e}); install Debian's libseccomp2"
    return None
