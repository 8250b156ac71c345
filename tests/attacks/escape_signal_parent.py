# ruff: noqa
# Attack: signal the worker (its parent) and PID 1: SIGSTOP, SIGTERM, SIGKILL, SIGCHLD floods,
#   by posix.kill, killpg, libc, pidfd_send_signal and signal.pthread_kill-style tgkill.
# Must hold: the worker is neither stopped nor killed nor replaced, and answers the next
#   sample; host victims live.
# Needs: probe (uid, PID namespace, read-only root)
import ctypes
import posix
import signal

libc = ctypes.CDLL(None, use_errno=True)
targets = {posix.getppid(), 1, 2}
for pid in targets:
    for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGKILL, signal.SIGSEGV):
        for what, call in (
            ("kill", lambda: posix.kill(pid, sig)),
            ("killpg", lambda: posix.killpg(pid, sig)),
            ("libc kill", lambda: libc.kill(pid, sig) or ctypes.get_errno()),
            ("tgkill", lambda: libc.syscall(234, pid, pid, sig) or ctypes.get_errno()),
            ("pidfd", lambda: libc.syscall(424, libc.syscall(434, pid, 0), sig, None, 0)),
        ):
            try:
                print(what, pid, sig, call())
            except OSError as e:
                print(what, pid, sig, e.strerror)
for _ in range(10000):
    try:
        posix.kill(posix.getppid(), signal.SIGCHLD)
    except OSError:
        break
raise AssertionError("attack finished")
