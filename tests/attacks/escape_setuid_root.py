# ruff: noqa
# Attack: become root: setuid/setresuid/setgid/setgroups via libc and posix, capset, and
#   setuid-root programs (chage, mount) started with posix_spawn.
# Must hold: the sample stays its slot's uid (no "LEAK:" line: every attempt is refused,
#   no_new_privs blocks set-uid binaries); it fails; host files are unchanged.
# Needs: probe (run as root outside a mount namespace, these would change the host)
import ctypes
import os
import posix

libc = ctypes.CDLL(None, use_errno=True)
for what, call in (
    ("setuid", lambda: libc.setuid(0)),
    ("setresuid", lambda: libc.setresuid(0, 0, 0)),
    ("setgid", lambda: libc.setgid(0)),
    ("setgroups", lambda: libc.setgroups(1, (ctypes.c_uint * 1)(0))),
    ("setfsuid", lambda: (libc.setfsuid(0), libc.setfsuid(-1))[1]),
):
    rc = call()
    print(what, rc, ctypes.get_errno())
    if rc == 0:
        print(f"LEAK: {what}(0) succeeded")
for what, call in (
    ("posix.setuid", lambda: posix.setuid(0)),
    ("posix.setreuid", lambda: posix.setreuid(0, 0)),
):
    try:
        call()
    except OSError as e:
        print(what, e.strerror)
if posix.geteuid() == 0 or posix.getuid() == 0 or 0 in posix.getresgid():
    print("LEAK: became root")
status = open("/proc/self/status").read()
print(
    [
        line
        for line in status.splitlines()
        if line.startswith(("Uid", "Cap", "NoNewPrivs", "Seccomp"))
    ]
)
r, w = posix.pipe()
for argv in (
    ["/usr/bin/chage", "-l", "root"],
    ["/usr/bin/mount", "-t", "tmpfs", "none", "/mnt"],
):
    try:
        pid = os.posix_spawn(
            argv[0],
            argv,
            {"PATH": "/usr/bin"},
            file_actions=[
                (os.POSIX_SPAWN_DUP2, w, 1),
                (os.POSIX_SPAWN_DUP2, w, 2),
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
            ],
        )
        _, st = posix.waitpid(pid, 0)
        print(argv[0], "exit status", st >> 8)
        if st == 0:
            print(f"LEAK: {argv[0]} succeeded")
    except OSError as e:
        print(argv[0], e)
posix.close(w)
print(posix.read(r, 4096).decode(errors="replace"))
raise AssertionError("attack finished")
