# ruff: noqa
# Attack: create many small files and directories: 5000 of each (a file of one block in each
#   directory), to exhaust inodes or make the clean-up slow.
# Must hold: the CPU/wall limit or the work tmpfs ends it; the work directory is removed
#   afterwards, the worker is not replaced and answers the next sample.
import posix

n = 0
try:
    while n < 5000:
        posix.mkdir(f"d{n}")
        fd = posix.open(f"d{n}/f", posix.O_WRONLY | posix.O_CREAT)
        posix.write(fd, b"x" * 4096)
        posix.close(fd)
        n += 1
except OSError as e:
    print(f"stopped after {n}: {e}")
raise AssertionError("attack finished")
