# ruff: noqa
# Attack: kill(-1, SIGKILL): every process the sample may signal, through posix.kill, libc
#   kill and the raw system call; then SIGKILL to every pid it can see in /proc.
# Must hold: the host's victim processes (one root, one per slot uid, started by the test)
#   live; the worker is not killed or replaced; the pool answers the next sample.
# Needs: probe (uid, PID namespace, read-only root)
import ctypes
import posix
import signal

libc = ctypes.CDLL(None, use_errno=True)
me = posix.getpid()
for sig in (signal.SIGSTOP, signal.SIGKILL):
    for what, call in (
        ("posix.kill", lambda: posix.kill(-1, sig)),
        ("libc.kill", lambda: libc.kill(-1, sig)),
        ("syscall", lambda: libc.syscall(62, -1, sig)),
    ):
        try:
            print(what, call())
        except OSError as e:
            print(what, e.strerror)
for name in posix.listdir("/proc"):
    if name.isdigit() and int(name) != me:
        try:
            posix.kill(int(name), signal.SIGKILL)
            print(f"LEAK: killed {name}")
        except OSError as e:
            print("kill", name, e.strerror)
raise AssertionError("attack finished")
