# ruff: noqa
# Attack: fill the work directory's file system: files of 15 MB (under RLIMIT_FSIZE) until
#   ENOSPC, at most 1 GB (twice the 512 MB work tmpfs; a cap so that a mode without a size
#   limit costs the host at most that, and only briefly).
# Must hold: the sample does not pass; the work directory is removed; the pool answers.
#   (A separate test checks that the space is capped.)
import posix

block = b"\x04" * (1 << 20)
total = 0
try:
    for i in range(68):
        fd = posix.open(f"fill{i}", posix.O_WRONLY | posix.O_CREAT)
        try:
            for _ in range(15):
                posix.write(fd, block)
                total += 1
        finally:
            posix.close(fd)
except OSError as e:
    print("stopped:", e)
raise AssertionError(f"attack finished: wrote {total} MB")
