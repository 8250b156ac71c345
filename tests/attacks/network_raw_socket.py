# ruff: noqa
# Attack: low-level sockets: raw IP (ICMP), AF_PACKET, netlink (route, audit, kobject uevents),
#   AF_VSOCK to the hypervisor, AF_BLUETOOTH, AF_ALG (kernel crypto attack surface).
# Must hold: every family but AF_UNIX is refused (no "LEAK:" line); it fails.
import socket

tries = [
    ("raw icmp", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
    ("packet", socket.AF_PACKET, socket.SOCK_RAW, 0x0300),
    ("netlink route", socket.AF_NETLINK, socket.SOCK_RAW, 0),
    ("netlink uevent", socket.AF_NETLINK, socket.SOCK_DGRAM, 15),
    ("vsock", getattr(socket, "AF_VSOCK", 40), socket.SOCK_STREAM, 0),
    ("alg", getattr(socket, "AF_ALG", 38), socket.SOCK_SEQPACKET, 0),
    ("bluetooth", 31, socket.SOCK_STREAM, 0),
]
for name, family, kind, proto in tries:
    try:
        s = socket.socket(family, kind, proto)
        print(f"LEAK: {name} socket")
        s.close()
    except OSError as e:
        print(name, e)
raise AssertionError("attack finished")
