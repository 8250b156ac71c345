# ruff: noqa
# Attack: raise its own priority to starve the host: setpriority(-10) and nice(-10) via libc,
#   sched_setscheduler to SCHED_FIFO, the real-time I/O class; lower the worker's priority.
# Must hold: all refused (no "LEAK:" line: the priority stays >= 0, the policy SCHED_OTHER);
#   it fails.
import ctypes
import posix

libc = ctypes.CDLL(None, use_errno=True)
print("setpriority -10:", libc.setpriority(0, 0, -10), ctypes.get_errno())
print("nice -10:", libc.nice(-10), ctypes.get_errno())
print("setpriority parent:", libc.setpriority(0, posix.getppid(), 19), ctypes.get_errno())
print(
    "SCHED_FIFO:", libc.sched_setscheduler(0, 1, ctypes.byref(ctypes.c_int(50))), ctypes.get_errno()
)
print("ioprio RT:", libc.syscall(251, 1, 0, 1 << 13), ctypes.get_errno())
if posix.getpriority(0, 0) < 0:
    print("LEAK: negative nice value", posix.getpriority(0, 0))
if libc.sched_getscheduler(0) != 0:
    print("LEAK: real-time scheduling policy")
if libc.syscall(252, 1, 0) >> 13 == 1:
    print("LEAK: real-time I/O class")
raise AssertionError("attack finished")
