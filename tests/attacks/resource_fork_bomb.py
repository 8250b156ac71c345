# ruff: noqa
# Attack: fork bomb. Every process forks forever through posix.fork (the guard only sets
#   os.fork to None); children never leave the loop, so none can fall through to a report.
# Must hold: RLIMIT_NPROC caps the bomb; the sample times out or fails; none of its processes
#   outlive it; host victims live; the worker is not replaced and answers the next sample.
# Needs: probe (uid, PID namespace, read-only root)
import posix

while True:
    try:
        posix.fork()
    except OSError:
        pass
