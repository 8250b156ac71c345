# ruff: noqa
# Attack: connect over TCP to a listener the test opened on the host's 127.0.0.1, by the socket
#   module, by IPv6 (::1 and ::ffff:127.0.0.1), and by the raw socket(2) system call.
# Must hold: the host listener sees no connection; it fails.
import ctypes
import socket

PORT = int("__TCP_PORT__")
for family, addr in (
    (socket.AF_INET, ("127.0.0.1", PORT)),
    (socket.AF_INET6, ("::1", PORT)),
    (socket.AF_INET6, ("::ffff:127.0.0.1", PORT)),
):
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(addr)
            s.sendall(b"__MARK__")
            print(f"LEAK: connected to {addr}")
    except OSError as e:
        print(addr, e)
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.syscall(41, socket.AF_INET, socket.SOCK_STREAM, 0)
print("socket(2):", fd, ctypes.get_errno())
if fd >= 0:
    print("LEAK: AF_INET socket through syscall")
raise AssertionError("attack finished")
