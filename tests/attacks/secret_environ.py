# ruff: noqa
# Attack: dump the environment: os.environ, /proc/self/environ, the parent's and PID 1's
#   environ, auxv, and the interpreter's configuration (sys.flags, sys.path).
# Must hold: the canary variable the test set on the host before the pool started is not in
#   the output (the worker's environment is a fixed allow-list); it fails.
import os
import sys

print(dict(os.environ))
for path in ("/proc/self/environ", f"/proc/{os.getppid()}/environ", "/proc/1/environ"):
    try:
        with open(path, "rb") as f:
            print(path, f.read().split(b"\0"))
    except OSError as e:
        print(path, e.strerror)
print(sys.path, sys.flags)
raise AssertionError("attack finished")
