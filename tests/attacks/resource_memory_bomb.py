# ruff: noqa
# Attack: memory bomb. Allocate and touch 64 MB blocks as fast as possible, keep them, and
#   keep going after MemoryError.
# Must hold: RLIMIT_AS stops it at max_memory_mb; the sample fails or times out; the host
#   and the worker survive (the worker answers the next sample, it is not replaced).
held = []
while True:
    try:
        held.append(b"\x01" * (64 << 20))
    except MemoryError:
        held.append(bytearray(1))
