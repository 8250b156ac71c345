"""Isolation set up inside a worker, before it runs any sample (imported by `worker` only).

The worker calls `enter_namespaces` once: new mount, network, PID, IPC and UTS namespaces; the
root filesystem read-only; a fresh tmpfs for work directories; root's home masked; a /proc of
its own. Each sample's child then calls `drop_privileges` (the slot's own uid) and inherits the
seccomp filter the worker installed on itself with `install_seccomp`. This follows what isolate
and nsjail do: a supervisor outside the jail, one uid per slot, namespaces, rlimits, seccomp.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import socket
import sys
from collections.abc import Iterable

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
NAMESPACES = CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 4096, 16384, 1 << 18
_SYS_MOUNT_SETATTR = 442  # x86_64 and aarch64 share it (new syscalls use the common table)
_AT_FDCWD, _AT_RECURSIVE, _MOUNT_ATTR_RDONLY = -100, 0x8000, 1
WORK_ROOT = "/tmp"
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE = 1, 4
MASKED = ("/root", "/home")  # users' homes: keys, tokens, shell histories
# Folders covered by a fresh tmpfs inside the sandbox: the homes, and the work root. Paths the
# interpreter needs below them (a virtual environment in /tmp or a home) are bound back in.
HIDDEN = (*MASKED, WORK_ROOT)

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


def enter_namespaces(*, tmp_size_mb: int, expose: Iterable[str]) -> None:
    """Move this process into new namespaces as PID 1 of its own PID namespace.

    The calling process forks: the parent stays outside, waits, and exits with the child's
    status; the child returns from this function inside the new namespaces. `expose` lists
    paths under the masked homes that must stay readable (the interpreter, its packages).
    """
    _check(_libc.unshare(NAMESPACES), "unshare")
    pid = os.fork()
    if pid:
        _wait_and_exit_like(pid)
    _make_mounts_private()
    kept = _open_exposed(expose)
    for home in MASKED:
        if os.path.isdir(home):
            _mount("tmpfs", home, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
    _mount("tmpfs", WORK_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=0711,size={tmp_size_mb}m")
    for path, fd in kept:
        os.makedirs(path, mode=0o755, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", path, None, MS_BIND | MS_REC)
        os.close(fd)
    _make_read_only("/")
    _make_writable(WORK_ROOT)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV)
    socket.sethostname("passk-sandbox")


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


def _open_exposed(paths: Iterable[str]) -> list[tuple[str, int]]:
    """O_PATH descriptors to the paths under masked homes, taken before the mask hides them;
    a path inside one already kept comes along with it."""
    kept: list[tuple[str, int]] = []
    for path in sorted(set(paths)):
        if not _under(path, HIDDEN) or path in HIDDEN or not os.path.isdir(path):
            continue
        if _under(path, [k for k, _ in kept]):
            continue
        kept.append((path, os.open(path, os.O_PATH | os.O_DIRECTORY)))
    return kept


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


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


def install_seccomp() -> None:
    """Refuse, for this process and every process it starts, the system calls above;
    socket(2); socket pairs other than AF_UNIX; clone with namespace flags; and clone3 (ENOSYS,
    so libc falls back to clone, whose flags a filter can see)."""
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
    f.load()


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


def exposed_paths() -> list[str]:
    """What a sample must still read under the masked homes: the interpreter and its paths."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    paths.update(p for p in sys.path if p and os.path.isdir(p))
    return sorted(os.path.realpath(p) for p in paths) + sorted(paths)
