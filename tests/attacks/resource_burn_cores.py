# ruff: noqa
# Attack: burn every core from one process: 16 threads hashing large buffers (hashlib
#   releases the GIL for them), forever.
# Must hold: the CPU limit (it counts all threads) ends it as "timed out"; the pool answers.
import hashlib
import threading

data = b"\x05" * (1 << 20)


def burn():
    while True:
        hashlib.sha256(data).digest()


for _ in range(16):
    threading.Thread(target=burn, daemon=True).start()
burn()
