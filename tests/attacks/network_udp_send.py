# ruff: noqa
# Attack: send UDP datagrams to a listener the test opened on the host's 127.0.0.1 (sendto,
#   connect+send, broadcast to 255.255.255.255).
# Must hold: the host listener receives nothing; it fails.
import socket

PORT = int("__UDP_PORT__")
for target in (("127.0.0.1", PORT), ("255.255.255.255", PORT), ("127.255.255.255", PORT)):
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            s.sendto(b"__MARK__", target)
            s.connect(target)
            s.send(b"__MARK__")
            print(f"LEAK: sent to {target}")
    except OSError as e:
        print(target, e)
raise AssertionError("attack finished")
