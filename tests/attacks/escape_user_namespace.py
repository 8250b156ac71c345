# ruff: noqa
# Attack: gain capabilities through a new user namespace (then mount, chroot, raw sockets):
#   unshare via libc and the raw system call, clone with CLONE_NEWUSER, clone3 (whose flags a
#   seccomp filter cannot see), setns into PID 1's namespaces.
# Must hold: every attempt is refused (no "LEAK:" line); the sample fails.
import ctypes
import posix

libc = ctypes.CDLL(None, use_errno=True)
NEWUSER, NEWNS, NEWNET, NEWPID = 0x10000000, 0x20000, 0x40000000, 0x20000000
for flags in (NEWUSER, NEWUSER | NEWNS | NEWNET, NEWNS, NEWNET, NEWPID):
    rc = libc.unshare(flags)
    print("unshare", hex(flags), rc, ctypes.get_errno())
    if rc == 0:
        print(f"LEAK: unshare {hex(flags)}")
    rc = libc.syscall(272, flags)
    if rc == 0:
        print(f"LEAK: syscall unshare {hex(flags)}")
# clone(flags=CLONE_NEWUSER|SIGCHLD) through the raw system call: the child exits at once.
pid = libc.syscall(56, NEWUSER | 17, None, None, None, None)
if pid == 0:
    posix._exit(0)
print("clone NEWUSER", pid, ctypes.get_errno())
if pid > 0:
    print("LEAK: clone with CLONE_NEWUSER")
    posix.waitpid(pid, 0)


class CloneArgs(ctypes.Structure):
    _fields_ = [
        (n, ctypes.c_uint64)
        for n in (
            "flags",
            "pidfd",
            "child_tid",
            "parent_tid",
            "exit_signal",
            "stack",
            "stack_size",
            "tls",
        )
    ]


args = CloneArgs(NEWUSER, 0, 0, 0, 17, 0, 0, 0)
pid = libc.syscall(435, ctypes.byref(args), ctypes.sizeof(args))
if pid == 0:
    posix._exit(0)
print("clone3", pid, ctypes.get_errno())
if pid > 0:
    print("LEAK: clone3 with CLONE_NEWUSER")
    posix.waitpid(pid, 0)
for ns in ("user", "mnt", "net", "pid"):
    try:
        fd = posix.open(f"/proc/1/ns/{ns}", posix.O_RDONLY)
        rc = libc.setns(fd, 0)
        print("setns", ns, rc, ctypes.get_errno())
        if rc == 0:
            print(f"LEAK: setns {ns}")
    except OSError as e:
        print("open ns", ns, e.strerror)
try:
    print("user namespaces seen:", open("/proc/self/uid_map").read().split())
except OSError:
    pass
raise AssertionError("attack finished")
