# ruff: noqa
# Attack: children in sessions and process groups of their own (setsid, setpgid), several
#   levels deep, each ignoring SIGTERM/SIGHUP and sleeping; the sample exits at once so they
#   become orphans.
# Must hold: the worker's sweep kills them all: no process of the slot's uid remains.
import posix
import signal
import time


def spawn(depth):
    pid = posix.fork()
    if pid:
        return
    try:
        if depth % 2:
            posix.setsid()
        else:
            posix.setpgid(0, 0)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        if depth < 4:
            spawn(depth + 1)
            spawn(depth + 1)
        time.sleep(600)
    finally:
        posix._exit(0)


spawn(0)
time.sleep(0.3)
raise AssertionError("attack finished")
