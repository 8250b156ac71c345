# ruff: noqa
# Attack: spend CPU where the sample's own accounting does not look: start 12 children, each in
#   a session of its own, spinning; the sample itself only sleeps. Per-process CPU limits and
#   the sample's rusage see none of it; on a 2-core machine the spinners take the cores from a
#   neighbouring sample.
# Must hold: the sample times out, its reported CPU time covers its children's (it is its
#   cgroup's), no spinner outlives it, and a slow but correct sample running beside it still
#   passes (tested separately).
import posix
import time

for _ in range(12):
    if posix.fork() == 0:
        posix.setsid()
        while True:
            pass
time.sleep(60)
raise AssertionError("attack finished")
