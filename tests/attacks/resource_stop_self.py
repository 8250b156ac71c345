# ruff: noqa
# Attack: stop itself with SIGSTOP (a stopped process neither exits nor uses CPU), after
#   ignoring every signal that can be ignored.
# Must hold: the wall-clock limit ends it as "timed out" (SIGKILL works on stopped
#   processes); no process of its uid remains; the pool answers the next sample.
import signal

for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCONT, signal.SIGXCPU):
    signal.signal(sig, signal.SIG_IGN)
signal.raise_signal(signal.SIGSTOP)
raise AssertionError("attack finished: continued after SIGSTOP")
