# ruff: noqa
# Attack: reach the cloud metadata service (169.254.169.254, and its IPv6 form fd00:ec2::254)
#   for instance credentials, and the default gateway over HTTP.
# Must hold: no connection (no "LEAK:" line); it fails.
import socket

for family, addr in (
    (socket.AF_INET, ("169.254.169.254", 80)),
    (socket.AF_INET6, ("fd00:ec2::254", 80)),
    (socket.AF_INET, ("10.0.0.1", 80)),
):
    try:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            s.connect(addr)
            s.sendall(b"GET /latest/meta-data/iam/ HTTP/1.0\r\n\r\n")
            print(f"LEAK: {addr}:", s.recv(200))
    except OSError as e:
        print(addr, e)
raise AssertionError("attack finished")
