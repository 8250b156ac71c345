# ruff: noqa
# Attack: connect to a unix socket bound to a path on the host's file system (mode 0666, in a
#   directory the sandbox shows read-only), as host services such as D-Bus, journald, Docker
#   or X11 listen. A read-only mount does not stop connect(2) on a socket file, and seccomp
#   lets AF_UNIX through; only the mount namespace's view decides.
# Must hold: the host listener sees no connection; it fails.
import socket

path = "__UNIX_PATH__"
for kind in (socket.SOCK_STREAM,):
    try:
        with socket.socket(socket.AF_UNIX, kind) as s:
            s.settimeout(1)
            s.connect(path)
            s.sendall(b"__MARK__")
            print(f"LEAK: connected to {path}")
    except OSError as e:
        print(path, e)
raise AssertionError("attack finished")
