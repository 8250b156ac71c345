# ruff: noqa
# Attack: processes that never stay put: each forks a successor and exits at once, so its pid
#   keeps changing while the worker sweeps (10 such chains, in new sessions); the sample
#   itself exits early.
# Must hold: no process of the slot's uid remains after the verdict; the worker answers.
# Needs: probe (uid, PID namespace, read-only root)
import posix
import time


def hop():
    posix.setsid()
    while True:
        try:
            if posix.fork():
                posix._exit(0)
        except OSError:
            time.sleep(0.001)


for _ in range(10):
    try:
        if posix.fork() == 0:
            try:
                hop()
            finally:
                posix._exit(0)
    except OSError:
        break
time.sleep(0.5)
raise AssertionError("attack finished")
