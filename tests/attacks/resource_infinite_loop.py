# ruff: noqa
# Attack: an infinite loop that burns one core.
# Must hold: the CPU limit ends it as "timed out"; the pool answers the next sample.
while True:
    pass
