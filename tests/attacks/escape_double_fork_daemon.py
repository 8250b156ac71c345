# ruff: noqa
# Attack: a classic daemon: fork, setsid, fork again, the middle process exits, the
#   grandchild closes its descriptors, ignores SIGHUP/SIGTERM, writes its pid where it can and
#   sleeps, hoping to outlive the sample. The sample itself then fails.
# Must hold: no process of the slot's uid remains after the verdict (host-side scan); the
#   worker answers the next sample.
import posix
import signal
import time

pid = posix.fork()
if pid == 0:
    try:
        posix.setsid()
        if posix.fork() == 0:
            for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, signal.SIG_IGN)
            posix.closerange(0, 256)
            for path in (
                "/var/tmp/__MARK__-daemon.pid",
                "/dev/shm/__MARK__-daemon.pid",
                "daemon.pid",
            ):
                try:
                    with open(path, "w") as f:
                        f.write(str(posix.getpid()))
                except OSError:
                    pass
            time.sleep(600)
    finally:
        posix._exit(0)
posix.waitpid(pid, 0)
time.sleep(0.2)
raise AssertionError("attack finished")
