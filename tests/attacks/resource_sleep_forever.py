# ruff: noqa
# Attack: sleep forever (no CPU used, so only the wall-clock limit can end it).
# Must hold: the wall-clock limit ends it as "timed out"; the pool answers the next sample.
import time

while True:
    time.sleep(3600)
