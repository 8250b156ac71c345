# ruff: noqa
# Attack: one huge file in the work directory (64 MB; the limit is 16 MB), with SIGXFSZ
#   ignored so that the write itself reports the failure; then a sparse file by truncate.
# Must hold: RLIMIT_FSIZE stops the file at the limit; the sample fails; the pool answers.
import posix
import signal

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
written = 0
try:
    with open("huge", "wb") as f:
        for _ in range(64):
            f.write(b"\x00" * (1 << 20))
            written += 1
except OSError as e:
    print("write stopped:", e)
fd = posix.open("sparse", posix.O_WRONLY | posix.O_CREAT)
try:
    posix.ftruncate(fd, 1 << 40)
    print("LEAK: 1 TB sparse file")
except OSError as e:
    print("ftruncate:", e)
raise AssertionError(f"attack finished: {written} MB written")
