# ruff: noqa
# Attack: block on standard input: input(), sys.stdin.read(), sys.__stdin__, a raw read of
#   descriptor 0, and a read of the controlling terminal /dev/tty.
# Must hold: nothing blocks beyond the wall-clock limit (stdin is /dev/null, the streams raise
#   like the official swallow_io); the sample does not pass; the pool answers.
import posix
import sys

for what, call in (
    ("input", lambda: input()),
    ("sys.stdin.read", lambda: sys.stdin.read()),
    ("__stdin__", lambda: sys.__stdin__.read()),
    ("fd 0", lambda: posix.read(0, 100)),
    ("/dev/tty", lambda: open("/dev/tty").read()),
):
    try:
        print(what, repr(call())[:50])
    except BaseException as e:
        print(what, type(e).__name__, e)
data = posix.read(0, 1 << 20)
while data:
    data = posix.read(0, 1 << 20)
raise AssertionError("attack finished")
