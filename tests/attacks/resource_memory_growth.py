# ruff: noqa
# Attack: gradual memory growth: 16 MB more every 20 ms, a leak rather than a bomb, so that
#   neither the CPU limit nor a sudden allocation failure ends it quickly.
# Must hold: RLIMIT_AS or the wall-clock limit ends it; the sample does not pass; the pool
#   answers the next sample.
import time

held = []
while True:
    try:
        held.append(b"\x02" * (16 << 20))
    except MemoryError:
        pass
    time.sleep(0.02)
