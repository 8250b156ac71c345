# ruff: noqa
# Attack: exhaust file descriptors: pipes, /dev/null, socketpairs, epoll, until EMFILE.
# Must hold: RLIMIT_NOFILE caps it; the sample fails; the worker (whose descriptors are
#   separate) answers the next sample.
import posix
import select
import socket

fds, objects = [], []
try:
    while True:
        fds.extend(posix.pipe())
        fds.append(posix.open("/dev/null", posix.O_RDONLY))
        fds.extend(s.detach() for s in socket.socketpair())
        objects.append(select.epoll())
except OSError as e:
    print(f"{len(fds) + len(objects)} descriptors, then {e}")
raise AssertionError("attack finished")
