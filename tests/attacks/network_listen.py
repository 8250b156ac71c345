# ruff: noqa
# Attack: open a server: listen on TCP port __LISTEN_PORT__ on all interfaces and on
#   127.0.0.1, and bind UDP, then wait for a client (the test tries to connect from the host
#   while the sample runs).
# Must hold: the host cannot connect to it; it fails.
import socket
import time

PORT = int("__LISTEN_PORT__")
servers = []
for host in ("0.0.0.0", "127.0.0.1", "::"):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        try:
            s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, kind)
            s.bind((host, PORT))
            if kind == socket.SOCK_STREAM:
                s.listen()
            servers.append(s)
            print(f"LEAK: listening on {host}:{PORT} ({kind})")
        except OSError as e:
            print(host, kind, e)
time.sleep(0.5)
raise AssertionError("attack finished")
