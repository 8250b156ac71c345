# ruff: noqa
# Attack: ignore SIGTERM, SIGINT, SIGHUP, SIGALRM, SIGXCPU, SIGVTALRM, SIGPROF, SIGUSR1/2
#   (by SIG_IGN and by handlers), block them too, then spin.
# Must hold: the hard CPU limit (SIGKILL) or the wall-clock SIGKILL ends it as "timed out".
import signal

SIGS = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGHUP,
    signal.SIGALRM,
    signal.SIGXCPU,
    signal.SIGVTALRM,
    signal.SIGPROF,
    signal.SIGUSR1,
    signal.SIGUSR2,
    signal.SIGXFSZ,
)
for sig in SIGS:
    signal.signal(sig, lambda *a: None)
signal.pthread_sigmask(signal.SIG_BLOCK, SIGS)
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
