# ruff: noqa
# Attack: connect to an abstract-namespace unix socket the test listens on in the host's
#   network namespace (abstract names have no file, so file system isolation does not apply),
#   and to well-known abstract names of host services.
# Must hold: the host listener sees no connection; it fails.
import socket

for name in ("__ABSTRACT_NAME__", "/tmp/.X11-unix/X0", "/org/freedesktop/systemd1/notify"):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM, socket.SOCK_SEQPACKET):
        try:
            with socket.socket(socket.AF_UNIX, kind) as s:
                s.settimeout(1)
                s.connect("\0" + name)
                s.send(b"__MARK__")
                print(f"LEAK: connected to @{name}")
        except OSError as e:
            print(name, kind, e)
raise AssertionError("attack finished")
