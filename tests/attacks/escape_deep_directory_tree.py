# ruff: noqa
# Attack: crash the worker while it cleans up: a chain of 3000 nested directories in the work
#   directory (made relative to descriptors, so no path is ever too long). Python 3.11's
#   shutil.rmtree recurses once per level, so removing it raises RecursionError in the worker.
# Must hold: the sample fails; the worker survives it (is not replaced) and answers the next
#   sample; no sample gets the "error" outcome.
import posix

fd = posix.open(".", posix.O_RDONLY)
for _ in range(3000):
    posix.mkdir("d", dir_fd=fd)
    inner = posix.open("d", posix.O_RDONLY, dir_fd=fd)
    posix.close(fd)
    fd = inner
raise AssertionError("attack finished")
